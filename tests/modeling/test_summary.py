"""describe_priors: the value column of free parameters and the printed resolution."""

import math
import pickle

import numpy as np
import pytest
import scipy.stats as st

from gammaprob.modeling import Parameter, Parameters, describe_priors, spatial, temporal
from gammaprob.modeling import prior as priors
from gammaprob.modeling.hierarchy import Hierarchy


def _line(table, name: str) -> list[str]:
    """The printed row of parameter ``name``, split on white space."""
    rows = [line.split() for line in str(table).splitlines()[2:]]
    (row,) = [r for r in rows if r[0] == name]
    return row


def test_narrow_prior_on_a_large_value_prints_its_digits():
    # an MJD with a prior of 0.01 d: 4 significant digits would print 5.395e+04
    flare = temporal.Gaussian(
        t_ref=priors.Normal(53945.02, 0.01, unit="d"),
        sigma=priors.LogUniform(0.005, 0.05, unit="d"),
    )
    table = describe_priors(flare)
    text = str(table)
    assert "e+04" not in text
    row = _line(table, "t_ref")
    # value, q_low and q_high to 0.001 d (the second significant digit of sigma)
    assert row[1:4] == ["free", "53945.02", "d"]
    assert row[-2:] == ["53945.004", "53945.036"]
    assert "Normal(mu=53945.02, sigma=0.01)" in text
    # the columns keep full precision: q_low = 53945.02 - 1.6449 * 0.01
    assert table["q_low"][0] == pytest.approx(53945.02 - 0.016449, abs=1e-6)


def test_free_value_is_the_prior_median_not_the_component_default():
    gauss = spatial.Gaussian(
        lon_0=priors.Normal(228.5, 0.1, unit="deg"),
        lat_0=priors.Normal(-59.16, 0.1, unit="deg"),
        sigma=priors.LogUniform(0.01, 0.5, unit="deg"),
        frame="icrs",
    )
    # why the table showed 0: setting a prior keeps the component's default reference value
    # when the prior's support contains it
    assert gauss.lon_0.value == 0.0
    table = describe_priors(gauss)
    assert table["value"][0] == 228.5 and table["value"][1] == -59.16
    assert table["value"][2] == pytest.approx(math.sqrt(0.01 * 0.5), rel=1e-12)
    assert _line(table, "lon_0")[2] == "228.5"
    assert _line(table, "lon_0")[-2:] == ["228.34", "228.66"]
    assert _line(table, "sigma")[2] == "0.07071"
    # fixed parameters keep their value
    assert _line(table, "phi")[1:3] == ["fixed", "0"]


@pytest.mark.parametrize(
    ("sigma", "q_low"),
    [(0.1, "999.84"), (0.099, "999.837"), (1.0, "998.4"), (0.01, "999.984")],
)
def test_resolution_is_the_second_significant_digit_of_the_scale(sigma, q_low):
    table = describe_priors(spatial.Gaussian(lon_0=priors.Normal(1000.0, sigma, unit="deg")))
    assert _line(table, "lon_0")[-2] == q_low
    assert _line(table, "lon_0")[2] == "1000"


@pytest.mark.parametrize(
    ("prior", "scipy_distribution"),
    [
        (priors.Normal(1.0, 2.0), st.norm(1.0, 2.0)),
        (priors.StudentT(3.0, 1.0, 2.0), st.t(3.0, 1.0, 2.0)),
        (priors.Cauchy(1.0, 2.0), st.cauchy(1.0, 2.0)),
        (priors.Uniform(1.0, 3.0), st.uniform(1.0, 2.0)),
        (priors.LogUniform(0.1, 10.0), st.loguniform(0.1, 10.0)),
        (priors.LogNormal(0.5, 0.3), st.lognorm(0.3, scale=math.exp(0.5))),
        (priors.HalfNormal(2.0), st.halfnorm(scale=2.0)),
        (priors.Exponential(2.0), st.expon(scale=0.5)),
        (priors.Gamma(2.0, 3.0), st.gamma(2.0, scale=1 / 3.0)),
        (priors.TruncatedNormal(0.1, 0.5, 0.0, math.inf), st.truncnorm(-0.2, math.inf, 0.1, 0.5)),
    ],
    ids=lambda case: type(case).__name__ if not hasattr(case, "ppf") else "scipy",
)
def test_median_and_interval_are_exact_and_match_the_draws(prior, scipy_distribution):
    table = describe_priors(_OneParameter(Parameter("x", prior=prior)), quantiles=(0.1, 0.9))
    expected = scipy_distribution.ppf([0.1, 0.5, 0.9])
    row = table[0]
    np.testing.assert_allclose([row["q_low"], row["value"], row["q_high"]], expected, rtol=1e-12)
    # the same density as the prior's own draws (what the sampler's prior is checked against)
    draws = prior.sample(np.random.default_rng(1), 400_000)
    np.testing.assert_allclose(
        np.quantile(draws, [0.1, 0.5, 0.9]), expected, atol=0.01 * (expected[2] - expected[0])
    )


def test_prior_without_scipy_counterpart_uses_draws():
    member = Hierarchy(
        "idx", location=priors.Normal(2.5, 0.3), scale=priors.HalfNormal(0.2)
    ).member("a")
    table = describe_priors(_OneParameter(Parameter("index", prior=member)))
    draws = member.sample(np.random.default_rng(0), 20000)  # describe_priors' seed
    q_low, median, q_high = np.quantile(draws, [0.05, 0.5, 0.95])
    row = table[0]
    assert (row["q_low"], row["value"], row["q_high"]) == (q_low, median, q_high)
    assert 2.4 < median < 2.6 and q_low < 2.0 and q_high > 3.0


def test_sliced_pickled_and_html_tables_print_the_same_numbers():
    flare = temporal.Gaussian(
        t_ref=priors.Normal(53945.02, 0.01, unit="d"),
        sigma=priors.LogUniform(0.005, 0.05, unit="d"),
    )
    table = describe_priors(flare)
    free = table[table["status"] == "free"]
    assert _line(free, "t_ref") == _line(table, "t_ref")
    assert str(pickle.loads(pickle.dumps(table))) == str(table)
    html = table._repr_html_()
    assert "<td>53945.004</td>" in html and "5.395e+04" not in html


class _OneParameter:
    """The smallest object describe_priors accepts: something with ``parameters``."""

    def __init__(self, parameter):
        self.parameters = Parameters({parameter.name: parameter})
