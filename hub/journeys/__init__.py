"""Journeys at run time: the engine that moves an entry through its steps, and the timeline of a dry run."""
