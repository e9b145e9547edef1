import pytest

from catalog.models import LlmModel
from catalog.sizing import SizeRangeError, parse_size

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("text", "total", "active"),
    [
        ("70b", 70, 70),
        ("70B dense", 70, 70),
        (" 1.5 B ", 1.5, 1.5),
        ("1T", 1000, 1000),
        ("671b-a37b", 671, 37),
        ("30B-A3B", 30, 3),
        ("671B MoE with 37B active", 671, 37),
        ("235B MoE, 22B active", 235, 22),
    ],
)
def test_it_reads_the_sizes_people_type(text, total, active):
    size = parse_size(text)

    assert (size.total_b, size.active_b) == (total, active)


@pytest.mark.parametrize("text", ["70", "seventy billion", "70b-a", "", "8x7b"])
def test_it_names_the_accepted_forms_when_it_cannot_read_a_size(text):
    with pytest.raises(ValueError) as error:
        parse_size(text)

    message = str(error.value)
    assert "Accepted forms" in message
    assert '"70B dense"' in message and '"671B MoE with 37B active"' in message


def test_it_asks_for_the_active_size_of_a_moe():
    with pytest.raises(ValueError, match="needs its active parameters too"):
        parse_size("671B MoE")


def test_it_refuses_more_active_than_total_parameters():
    with pytest.raises(ValueError, match="cannot exceed the total"):
        parse_size("10b-a20b")


def test_a_dense_size_becomes_an_approximate_llama_class_model():
    model = LlmModel.from_size("70B dense")

    assert model.approximate
    assert (model.slug, model.name) == ("approx-70b-dense", "70B dense (approximate)")
    assert (model.hidden_size, model.kv_heads, model.head_dim) == (8192, 8, 128)
    assert model.vocab_size == 128256
    assert 70 <= model.layers <= 90
    assert not model.is_moe
    model.full_clean()


def test_a_moe_size_gets_experts_that_add_up_to_both_sizes():
    model = LlmModel.from_size("671B MoE with 37B active")

    assert model.is_moe and model.approximate
    assert model.slug == "approx-671b-moe-37b-active"
    assert model.experts_per_token == 8
    assert model.experts_total > 100
    counts = model.recomputed_params_b()
    assert counts.total_b == pytest.approx(671, rel=0.03)
    assert counts.active_b == pytest.approx(37, rel=0.03)
    model.full_clean()


@pytest.mark.parametrize("text", ["1b", "8b", "32b", "123b", "405b", "30b-a3b", "1t-a32b"])
def test_the_filled_in_architecture_adds_up_to_the_stated_size(text):
    model = LlmModel.from_size(text)

    counts = model.recomputed_params_b()
    assert counts.total_b == pytest.approx(model.total_params_b, rel=0.03)
    assert counts.active_b == pytest.approx(model.active_params_b, rel=0.03)


def test_an_approximate_model_can_be_saved(db):
    LlmModel.from_size("32b").save()

    assert LlmModel.objects.get(slug="approx-32b-dense").approximate


@pytest.mark.parametrize("text", ["5T", "3200b", "1000000b", "0.0005b", "1000b-a0.1b", "2000b-a1b"])
def test_a_size_beyond_what_can_be_approximated_names_the_range(text):
    with pytest.raises(SizeRangeError, match="model must be a size of total 0.01B to 10,000B"):
        parse_size(text)


@pytest.mark.parametrize("text", ["0.01b", "3000b", "10000b-a37b", "10b-a0.01b", "1T"])
def test_every_size_within_the_range_gives_a_model(text):
    assert LlmModel.from_size(text).approximate
