import pytest
from skorch.history import History

from sparselimit.metrics import plot_history

matplotlib = pytest.importorskip("matplotlib")


def make_history():
    history = History()
    for epoch, (pqi, acc) in enumerate([(0.3, 0.5), (0.2, None), (0.4, 0.9)], 1):
        history.new_epoch()
        history.record("epoch", epoch)
        history.record("pq_index", pqi)
        if acc is not None:
            history.record("valid_acc", acc)
    return history


def test_plots_one_line_per_key_against_epochs():
    from matplotlib.figure import Figure

    ax = Figure().subplots()
    assert plot_history(make_history(), ax=ax) is ax
    pqi, acc = ax.get_lines()
    assert list(pqi.get_xdata()) == [1, 2, 3] and list(pqi.get_ydata()) == [0.3, 0.2, 0.4]
    assert list(acc.get_xdata()) == [1, 3]  # epochs without the key are skipped
    assert ax.get_xlabel() == "epoch"


def test_accepts_a_net_a_list_and_a_single_key():
    import matplotlib.pyplot as plt

    class Net:
        history = make_history()

    ax = plot_history(Net(), keys="pq_index")
    assert [line.get_label() for line in ax.get_lines()] == ["pq_index"]
    plt.close(ax.figure)
    ax = plot_history(list(make_history()), keys=["valid_acc"])
    assert list(ax.get_lines()[0].get_ydata()) == [0.5, 0.9]
    plt.close(ax.figure)


def test_missing_key_lists_available_columns():
    with pytest.raises(KeyError, match=r"\['sparsity'\].*available columns: \['epoch', 'pq_index'"):
        plot_history(make_history(), keys=("pq_index", "sparsity"))
