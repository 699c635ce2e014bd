"""The hotline: calls, SMS conversations and commands, phone numbers, the Twilio gateway."""
