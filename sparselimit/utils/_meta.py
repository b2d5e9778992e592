"""What every pruning meta-estimator shares: it holds a fitted, pruned skorch net in
``estimator_`` and answers ``predict`` / ``predict_proba`` / ``transform`` / ``score`` with it,
looking like a classifier or a regressor as its inner net does."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import TransformerMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils import TransformerTags, get_tags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ._validation import _n_columns, _rng_shielded, check_finite

__all__ = ["PrunedNetMixin"]


def _check_input(est, X):
    """What scikit-learn checks at predict time: finite values, the fitted feature count."""
    check_is_fitted(est, "estimator_")
    if isinstance(X, (np.ndarray, torch.Tensor)):
        check_finite(X, "X")
    n, n_X = getattr(est, "n_features_in_", None), _n_columns(X)
    if n is not None and n_X is not None and n_X != n:
        raise ValueError(
            f"X has {n_X} features, but {type(est).__name__} is expecting {n} features as "
            "input (the number it was fitted on); pass data with the training data's columns."
        )
    return X


def _net_has(attr):
    """For ``available_if``: ask the fitted net if there is one, else the unfitted template;
    with no template (``estimator=None``), whether the class trains a default skorch net
    (which has every method)."""

    def check(self):
        net = self.__dict__.get("estimator_", self.estimator)
        if net is None:
            return self._trains_default_net
        return hasattr(net, attr)

    return check


class PrunedNetMixin(TransformerMixin):
    """Delegation to the pruned net ``estimator_`` for sparselimit's pruning meta-estimators.

    As a transformer (the pruned net's output, :meth:`transform`) it takes part in
    scikit-learn's output API: ``set_output(transform="pandas")`` and
    ``get_feature_names_out`` (the class name lower-cased and numbered, as scikit-learn's
    transformers do: ``globaloneshotpruner0``, ``globaloneshotpruner1``, ... one per output
    column), also inside a ``Pipeline``. Predicting and scoring leave torch's global RNG as
    it was (skorch's DataLoaders draw a seed from it on every pass).

    Examples
    --------
    >>> from sklearn.base import BaseEstimator
    >>> from sparselimit.utils import PrunedNetMixin
    >>> class Holder(PrunedNetMixin, BaseEstimator):
    ...     def __init__(self, estimator=None):
    ...         self.estimator = estimator
    >>> hasattr(Holder(), "predict_proba")  # no net to ask yet
    False
    """

    #: whether ``estimator=None`` trains a default net (then every method is available)
    _trains_default_net = False

    def _input(self, X):
        """``X`` checked as scikit-learn checks it at predict time, as the net takes it."""
        return _check_input(self, X)

    def _decode(self, y_pred):
        """The net's predictions as the user's targets (identity unless overridden)."""
        return y_pred

    @available_if(_net_has("predict"))
    def predict(self, X):
        """Predict with the pruned net.

        Parameters
        ----------
        X : array-like
            Input data.

        Returns
        -------
        y_pred : ndarray
        """
        X = self._input(X)  # before touching estimator_: NotFittedError when unfitted
        with _rng_shielded():  # skorch's predict draws a DataLoader seed from the global RNG
            y_pred = self.estimator_.predict(X)
        return self._decode(y_pred)

    @available_if(_net_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities (classifiers) or outputs (regressors) of the pruned net.

        Parameters
        ----------
        X : array-like
            Input data.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_outputs)
        """
        X = self._input(X)
        with _rng_shielded():
            return self.estimator_.predict_proba(X)

    @available_if(_net_has("predict_proba"))
    def transform(self, X):
        """The pruned net's output, so the pruner can be a non-final pipeline step.

        This is skorch's ``predict_proba``: class probabilities for classifiers, the network
        output for regressors, as a NumPy array.

        Parameters
        ----------
        X : array-like
            Input data.

        Returns
        -------
        Xt : ndarray of shape (n_samples, n_outputs)
        """
        X = self._input(X)
        with _rng_shielded():
            return self.estimator_.predict_proba(X)

    @available_if(_net_has("predict_proba"))
    def fit_transform(self, X, y=None, **fit_params):
        """Fit, then :meth:`transform` the training data.

        Parameters
        ----------
        X : array-like
            Training data.
        y : array-like, default=None
            Targets.
        **fit_params
            Passed to ``fit``.

        Returns
        -------
        Xt : ndarray of shape (n_samples, n_outputs)
        """
        return self.fit(X, y, **fit_params).transform(X)

    def _record_n_outputs(self, X) -> None:
        """Record the width of :meth:`transform`'s output (for :meth:`get_feature_names_out`)
        from one forward pass of the fitted net on the first sample of ``X``."""
        from skorch.utils import multi_indexing

        self._n_features_out = None
        if not hasattr(self.estimator_, "predict_proba"):
            return
        try:
            row = multi_indexing(X, slice(0, 1))
            # skorch's DataLoader draws a seed from the global RNG: leave it where it was
            with _rng_shielded():
                out = np.asarray(self.estimator_.predict_proba(self._input(row)))
        except Exception:  # an input the net takes but that cannot be sliced: no names
            return
        self._n_features_out = int(out.reshape(len(out), -1).shape[1])

    @available_if(_net_has("predict_proba"))
    def get_feature_names_out(self, input_features=None):
        """Names of :meth:`transform`'s output columns: ``<class name lower-cased>0``, ...

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Ignored (the outputs are not the inputs); present for the scikit-learn API.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self, "estimator_")
        n = getattr(self, "_n_features_out", None)
        if n is None:
            raise NotFittedError(
                f"{type(self).__name__} could not find the width of its output when it was "
                "fitted (its X could not be sliced to one sample); output names are "
                "unavailable. Call transform and name its columns yourself."
            )
        prefix = type(self).__name__.lower()
        return np.asarray([f"{prefix}{i}" for i in range(n)], dtype=object)

    @available_if(_net_has("score"))
    def score(self, X, y, **kwargs):
        """The pruned net's ``score`` (accuracy for classifiers, R² for regressors).

        Parameters
        ----------
        X : array-like
            Input data.
        y : array-like
            True targets.
        **kwargs : dict
            Passed to the net's ``score`` (e.g. ``sample_weight``).

        Returns
        -------
        score : float
        """
        X = self._input(X)
        with _rng_shielded():
            return self.estimator_.score(X, y, **kwargs)

    @property
    def classes_(self):
        """Class labels of the pruned classifier."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.classes_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if self.estimator is not None:
            try:
                inner = get_tags(self.estimator)
            except Exception:  # an estimator without sklearn tags: keep the defaults
                inner = None
            if inner is not None:
                tags.estimator_type = inner.estimator_type
                tags.classifier_tags = inner.classifier_tags
                tags.regressor_tags = inner.regressor_tags
                tags.target_tags.required = inner.target_tags.required
                tags.input_tags.sparse = inner.input_tags.sparse  # X goes to the net as it is
        # the output is the network's (float32 for a float32 net), whatever X's dtype was
        tags.transformer_tags = TransformerTags(preserves_dtype=[])
        return tags


# TransformerMixin (through scikit-learn's set_output machinery) replaced the two methods of
# this class by output-wrapping functions, which hasattr always finds: restore the check that
# the net has them
PrunedNetMixin.transform = available_if(_net_has("predict_proba"))(PrunedNetMixin.transform)
PrunedNetMixin.fit_transform = available_if(_net_has("predict_proba"))(PrunedNetMixin.fit_transform)
