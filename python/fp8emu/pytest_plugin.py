"""The pytest fixture `fp8emu_scaled_mm` (installed with the package as a pytest plugin).

A test that requests it runs torch._scaled_mm on CPU tensors with H100 tensor-core numerics.
Another GPU or accumulation: parametrize the fixture indirectly,
    @pytest.mark.parametrize("fp8emu_scaled_mm", ["b200", "h100:fast"], indirect=True)
("GPU" or "GPU:ACCUMULATION")."""
import pytest


@pytest.fixture
def fp8emu_scaled_mm(request):
    from .testing import emulate_scaled_mm

    spec = getattr(request, "param", "h100")
    gpu, _, accumulation = str(spec).partition(":")
    with emulate_scaled_mm(gpu=gpu, accumulation=accumulation or None) as settings:
        yield settings
