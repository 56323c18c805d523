"""Channel adapters: translate a channel's event into (question, school) and render the core's Answer."""
