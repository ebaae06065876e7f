"""The demo world's people: agencies, organisations and a user of every role."""
