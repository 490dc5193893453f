"""privateMDI."""
