"""A stand-in for GitHub: a REST server held to its description, and a git remote."""
