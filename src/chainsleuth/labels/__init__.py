"""Attribution: labels on addresses and entities, their sources, imports and history."""
