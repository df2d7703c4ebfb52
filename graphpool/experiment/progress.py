"""Progress reporting of a run: a small interface the runner calls, and a tqdm implementation.

The runner reports, in order: a readout x pool combination starts (:meth:`Progress.combination`);
for each outer fold, either it was finished by an earlier run (:meth:`Progress.fold_found`) or it
starts (:meth:`Progress.fold`), each grid candidate starts or resumes (:meth:`Progress.candidate`),
each epoch it trains ends (:meth:`Progress.epoch`), and the fold ends (:meth:`Progress.fold_done`).
The base class reports nothing, so library calls stay silent; the command line passes
:class:`TqdmProgress`, whose rates and time left count only what the current run trains.
"""

from __future__ import annotations

from typing import Any


class Progress:
    """Receives a run's progress; every method does nothing here. Subclass to report."""

    def combination(self, name: str, folds: int) -> None:
        """A readout x pool combination ``name`` starts; it has ``folds`` outer folds."""

    def fold(self, number: int, epochs: int) -> None:
        """Outer fold ``number`` starts; each candidate trains for at most ``epochs`` epochs."""

    def fold_found(self) -> None:
        """The next outer fold was finished by an earlier run: its result is read, nothing trains."""

    def candidate(self, epochs_done: int) -> None:
        """A grid candidate of the current fold starts, after ``epochs_done`` epochs (> 0 when resumed)."""

    def epoch(self, epoch: int, loss: float, validation: float) -> None:
        """An epoch ended with training ``loss`` (last batch) and ``validation`` score (accuracy, or RMSE)."""

    def fold_done(self) -> None:
        """The current fold is finished."""


class TqdmProgress(Progress):
    """Two tqdm bars: the folds of the current combination, and the epochs of the current grid candidate.

    Both show the mean rate of this run's own work (``smoothing=0``): work done by an earlier run
    (folds found finished, the epochs before a resume) is counted in tqdm's ``initial``, which the
    rate and the time left leave out.
    """

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self._folds: Any = None
        self._epochs: Any = None

    def combination(self, name: str, folds: int) -> None:
        from tqdm.auto import tqdm

        self._close()
        if not self.quiet:  # a quiet run has no bars: every report finds none and does nothing
            self._folds = tqdm(total=folds, desc=name, unit="fold", leave=False, smoothing=0)

    def fold(self, number: int, epochs: int) -> None:
        from tqdm.auto import tqdm

        if not self.quiet:
            self._epochs = tqdm(total=epochs, desc=f"fold {number}", unit="epoch", leave=False, smoothing=0)

    def fold_found(self) -> None:
        if self._folds is not None:
            _count_as_earlier(self._folds, 1)
        self._close_if_done()

    def candidate(self, epochs_done: int) -> None:
        if self._epochs is not None:
            self._epochs.reset()  # a new candidate: the clock restarts
            self._epochs.initial = 0
            _count_as_earlier(self._epochs, epochs_done)

    def epoch(self, epoch: int, loss: float, validation: float) -> None:
        if self._epochs is not None:
            self._epochs.n = epoch
            self._epochs.set_postfix(loss=f"{loss:.3f}", val=f"{validation:.3f}", refresh=True)

    def fold_done(self) -> None:
        if self._epochs is not None:
            self._epochs.close()
            self._epochs = None
        if self._folds is not None:
            self._folds.update(1)
        self._close_if_done()

    def _close_if_done(self) -> None:
        if self._folds is not None and self._folds.n >= self._folds.total:
            self._close()

    def _close(self) -> None:
        if self._folds is not None:
            self._folds.close()
            self._folds = None


def _count_as_earlier(bar: Any, steps: int) -> None:
    """Advance ``bar`` by ``steps`` done before this run: shown as done, left out of the rate."""
    bar.initial += steps
    bar.n += steps
    bar.last_print_n = bar.n
    bar.refresh()
