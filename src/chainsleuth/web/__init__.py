"""The web shell: app factory, dependencies, errors, CSRF, templates and static files."""
