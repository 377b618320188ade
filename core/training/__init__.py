"""Fine-tuning from judgments, as pipeline steps.

    recipe.py      which judgments train with which loss; refusals that say what would help
    split.py       a seeded hold-out with no text on both sides
    evaluation.py  before/after scores: held-out judgments and a fixed regression set
    trainer.py     one run: hold out, score, train, score, decide promotion
    readiness.py   before a run: per kind, the run's held-out size and current score, or why no gain can show
    registry.py    versioned fp16 saves with a model card, the last N kept
    sourcing.py    which judgments a run learns from (a campaign's consensus, or people's own)
    jobs.py        one background job at a time, with progress and cancel
    cli.py         python -m core.training: one run from the command line (the jobs' child process)
"""
