"""The command line, and later the GitHub app, around the injector."""
