"""Everything Opvang says outside its pages, by language: voice prompts, SMS
replies, alert notices, scheduler notices."""
