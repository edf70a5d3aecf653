"""Inbound updates: the bot's life cycle (polling or webhook), the commands, the painting flow and its
conversation states, albums, groups and /stats. Reaches the jobs only through `bots.jobs.admission` and
the runner interface (`bots.jobs.runner`)."""
