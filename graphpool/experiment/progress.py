"""Progress reporting of a run: a small interface the runner calls, and a tqdm implementation.

The runner reports, in order: a readout x pool combination starts (:meth:`Progress.combination`),
a fold starts (:meth:`Progress.fold`), each epoch of each grid candidate
(:meth:`Progress.epoch`), the fold ends (:meth:`Progress.fold_done`). The base class reports
nothing, so library calls stay silent; the command line passes :class:`TqdmProgress`.
"""

from __future__ import annotations

from typing import Any


class Progress:
    """Receives a run's progress; every method does nothing here. Subclass to report."""

    def combination(self, name: str, folds: int) -> None:
        """A readout x pool combination ``name`` starts; it has ``folds`` outer folds."""

    def fold(self, number: int, epochs: int) -> None:
        """Outer fold ``number`` starts; each candidate trains for at most ``epochs`` epochs."""

    def epoch(self, epoch: int, loss: float, validation: float) -> None:
        """An epoch ended with training ``loss`` (last batch) and ``validation`` score (accuracy, or RMSE)."""

    def fold_done(self) -> None:
        """The current fold is finished (or was finished by an earlier run)."""


class TqdmProgress(Progress):
    """Two tqdm bars: the folds of the current combination, and the epochs of the current fold."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self._folds: Any = None
        self._epochs: Any = None

    def combination(self, name: str, folds: int) -> None:
        from tqdm.auto import tqdm

        self._close()
        self._folds = tqdm(total=folds, desc=name, unit="fold", disable=self.quiet, leave=False)

    def fold(self, number: int, epochs: int) -> None:
        from tqdm.auto import tqdm

        self._epochs = tqdm(total=epochs, desc=f"fold {number}", unit="epoch", disable=self.quiet, leave=False)

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
            if self._folds.n >= self._folds.total:
                self._close()

    def _close(self) -> None:
        if self._folds is not None:
            self._folds.close()
            self._folds = None
