"""Built-in plugins. Each folder is one plugin, loaded through the
``wissel.plugins`` entry point group exactly like a third-party plugin."""
