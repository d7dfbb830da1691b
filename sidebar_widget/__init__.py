"""The agent-facing surface: the built-in inbox page (and, later, the sidebar widget)."""
