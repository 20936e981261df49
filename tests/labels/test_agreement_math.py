"""The agreement formulas give the values scipy and scikit-learn give for the same data."""

import pytest

from execlens.labels.agreement import (
    Confusion,
    agreement,
    cohen_kappa,
    ranks,
    roc_auc,
    spearman,
)


def test_ties_share_their_average_rank() -> None:
    assert ranks([10, 20, 20, 5]) == [2.0, 3.5, 3.5, 1.0]


def test_roc_auc_matches_scikit_learn() -> None:
    # sklearn.metrics.roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    assert roc_auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == 0.75
    # Ties between a positive and a negative count half: roc_auc_score([0, 1], [0.5, 0.5]) == 0.5
    assert roc_auc([0.5, 0.5], [False, True]) == 0.5


def test_roc_auc_needs_both_classes() -> None:
    assert roc_auc([0.2, 0.9], [True, True]) is None


def test_spearman_matches_scipy() -> None:
    # scipy.stats.spearmanr([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]).statistic
    assert spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) == pytest.approx(0.8207826816681233)
    assert spearman([1, 2, 3], [3, 3, 3]) is None


def test_cohen_kappa_matches_scikit_learn() -> None:
    # sklearn.metrics.cohen_kappa_score([0, 1, 1, 0, 1], [0, 1, 0, 0, 1]) == 0.6153846153846154
    confusion = Confusion(true_positive=2, false_positive=0, true_negative=2, false_negative=1)
    assert cohen_kappa(confusion) == pytest.approx(0.6153846153846154)
    assert cohen_kappa(Confusion(3, 0, 0, 0)) is None


def test_agreement_of_a_judge_that_gets_one_run_wrong() -> None:
    scores = [0.9, 0.8, 0.2, 0.6, 0.1]
    labels = [1.0, 1.0, 0.0, 0.0, 0.0]

    result = agreement(scores, labels, threshold=0.5)

    assert result.n == 5
    assert result.confusion == Confusion(2, 1, 2, 0)
    assert result.accuracy == 0.8
    assert result.roc_auc == 1.0
    assert result.mae == pytest.approx((0.1 + 0.2 + 0.2 + 0.6 + 0.1) / 5)
    assert result.cohen_kappa == pytest.approx(0.6153846153846154)
    assert result.spearman == pytest.approx(0.8660254037844387)
