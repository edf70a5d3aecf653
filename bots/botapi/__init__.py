"""What the chat process and the workers alike say to Telegram: the client's set-up, calls whose failure
is only logged, deliveries retried through Telegram's errors, status messages, pictures in and out, and
the inline keyboards. Imports only `bots.common`."""
