import pytest

from ._helpers import fit_seeded, make_data, make_net


@pytest.fixture(scope="module")
def data():
    return make_data()


@pytest.fixture(scope="module")
def fitted_net(data):
    X, y = data
    return fit_seeded(make_net(), X, y)
