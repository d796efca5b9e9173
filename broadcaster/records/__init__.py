"""The records every command, the console and the daemon read: the play log and its database, accounts,
approvals, alerts, what each zone is doing now, `check`, and reports."""
