"""What every blueprint shares: sign-in and role checks, the request's unit of work,
form pieces. Blueprints import from here, never from each other."""
