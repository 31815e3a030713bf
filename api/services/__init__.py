"""What the routes do, as small verbs with keyword-only arguments."""
