"""The engine every service shares: HTTP session, errors, pacing, retries, tasks, the poller."""
