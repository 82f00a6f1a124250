"""Payment gateway adapters behind the port in recur.commands.gateway; chosen once, in recur.bootstrap."""
