"""Reports: the leaderboard tables and picture, the paper's claims checked against them
(`findings`), and the terminal's progress bars and tables (`terminal`)."""
