"""The course's machinery, apart from the lessons: what maintainers and the command line use.

    python -m course run [--full] [NN ...]   execute the lessons headless and tabulate what each reached
    python -m course site                    build the course website from the executed lessons
    python -m course download NAME ...       fetch datasets and weights (or fill an offline mirror)
    python -m course datasets | results      list the datasets; print the recorded results
    python -m course references [NN ...]     make the outputs `pytest` compares the lessons with, again

Lessons never import this package themselves: `utils` (the learners' helpers) does, for what a lesson
needs found or checked (a dataset in a mirror, weights offline, a folder of photos, the run's parameters).
Nothing here imports `utils`.
"""
