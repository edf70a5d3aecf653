"""What every layer of the bots shares: settings, logging, the words the bots say (texts, languages,
styles), users' preferences, the request types and the lanes' vocabulary. Imports no other part of `bots`."""
