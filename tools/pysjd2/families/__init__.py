"""Exporters for real model families (docs/models.md).

Each family module turns its upstream checkpoint layout into a model folder of our contract
(docs/model-format.md) and can build a tiny random-weight configuration of the same architecture
with a checkpoint in the upstream layout (``make_tiny``) for tests:

* ``janus_pro``   deepseek-ai/Janus (Janus-Pro): Llama decoder, gen embedding + aligner, gen head, VQ-16
* ``llamagen``    FoundationVision/LlamaGen T2I: 2-D RoPE, FLAN-T5 features through a caption MLP, VQ-16
* ``lumina_mgpt`` Alpha-VLLM/Lumina-mGPT (Chameleon 7B): qk-LayerNorm, permuted image ids, Chameleon VQGAN
* ``emu3``        BAAI Emu3-Gen: GQA Llama decoder, RoPE theta 1e6, MoVQ decoder
"""
FAMILIES = {
    "janus-pro": "janus_pro",
    "llamagen": "llamagen",
    "lumina-mgpt": "lumina_mgpt",
    "emu3": "emu3",
}


def family_module(name: str):
    import importlib
    if name not in FAMILIES:
        raise KeyError(f"unknown family '{name}'; known: {', '.join(FAMILIES)}")
    return importlib.import_module(f"{__name__}.{FAMILIES[name]}")
