"""vdsm's Host verbs and their result shapes: capabilities, statistics, host facts, hooks."""
