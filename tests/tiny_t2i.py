"""Tiny random stand-ins of the paper text-to-image models, saved in the layouts `fetch_t2i_weights` produces:
FLUX.2 [klein] (diffusers folder with a tiny Qwen3), the SigLIP2 text tower (open_clip local dir) and PickScore
(transformers CLIP model + processor)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

CTX_DIM, CTX_LEN, SIZE = 24, 5, 32
WORDS = ["<pad>", "<unk>", "<eos>", "<user>", "a", "photo", "of", "dog", "two", "cats", "red", "cat"]


def tiny_parts():
    """(transformer, vae, scheduler) of a tiny FLUX.2: 16 packed latent channels, 32 px images."""
    from diffusers import AutoencoderKLFlux2, FlowMatchEulerDiscreteScheduler, Flux2Transformer2DModel

    torch.manual_seed(0)
    transformer = Flux2Transformer2DModel(
        patch_size=1, in_channels=16, num_layers=1, num_single_layers=1, attention_head_dim=8, num_attention_heads=2,
        joint_attention_dim=CTX_DIM, timestep_guidance_channels=16, axes_dims_rope=(2, 2, 2, 2), guidance_embeds=False)
    vae = AutoencoderKLFlux2(block_out_channels=(8, 8), down_block_types=("DownEncoderBlock2D",) * 2,
                             up_block_types=("UpDecoderBlock2D",) * 2, layers_per_block=1, latent_channels=4,
                             norm_num_groups=4, sample_size=SIZE)
    scheduler = FlowMatchEulerDiscreteScheduler(use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15,
                                                base_image_seq_len=256, max_image_seq_len=4096,
                                                time_shift_type="exponential", shift=3.0)
    return transformer, vae, scheduler


def word_tokenizer(chat_template: str | None = None):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>", eos_token="<eos>")
    if chat_template:
        tokenizer.chat_template = chat_template
    return tokenizer


def tiny_text_encoder():
    """A tiny random Qwen3 (27 layers, so hidden states 9/18/27 exist; 3 x 8 = CTX_DIM) and a word-level
    tokenizer with a chat template."""
    from transformers import Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(3)
    config = Qwen3Config(vocab_size=len(WORDS), hidden_size=CTX_DIM // 3, intermediate_size=16, num_hidden_layers=27,
                         num_attention_heads=2, num_key_value_heads=1, head_dim=4, pad_token_id=0)
    tokenizer = word_tokenizer("{% for m in messages %}<user> {{ m['content'] }}{% endfor %}")
    return Qwen3ForCausalLM(config).eval(), tokenizer


def save_klein(root: Path) -> Path:
    """The tiny FLUX.2 [klein] pipeline in the diffusers layout at ``root``."""
    from diffusers import Flux2KleinPipeline

    transformer, vae, scheduler = tiny_parts()
    text_encoder, tokenizer = tiny_text_encoder()
    Flux2KleinPipeline(scheduler=scheduler, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                       transformer=transformer, is_distilled=True).save_pretrained(root)
    return root


def save_siglip2_text(root: Path):
    """An open_clip folder in the layout of timm/ViT-SO400M-16-SigLIP2-256 (config, weights, HF tokenizer);
    returns (root, the model)."""
    import open_clip
    from safetensors.torch import save_file

    root.mkdir(parents=True, exist_ok=True)
    word_tokenizer().save_pretrained(root)
    cfg = {"embed_dim": 16, "custom_text": True, "init_logit_bias": -10,
           "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 16, "head_width": 16},
           "text_cfg": {"context_length": 8, "vocab_size": len(WORDS), "hf_tokenizer_name": "tiny",
                        "tokenizer_kwargs": {"clean": "canonicalize"}, "width": 32, "heads": 2, "layers": 1,
                        "no_causal_mask": True, "proj_bias": True, "pool_type": "last"}}
    (root / "open_clip_config.json").write_text(json.dumps({"model_cfg": cfg, "preprocess_cfg": {}}))
    torch.manual_seed(0)
    model = open_clip.create_model(f"local-dir:{root}", pretrained_text=False)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(root / "open_clip_model.safetensors"))
    return root, model


def save_pickscore(model_dir: Path, processor_dir: Path) -> None:
    """A tiny random CLIPModel and a CLIP processor (character BPE vocabulary, 32 px crops)."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    processor_dir.mkdir(parents=True, exist_ok=True)
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in "abcdefghijklmnopqrstuvwxyz":
        vocab[c] = len(vocab)
    for c in "abcdefghijklmnopqrstuvwxyz":
        vocab[c + "</w>"] = len(vocab)
    (processor_dir / "vocab.json").write_text(json.dumps(vocab))
    (processor_dir / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(processor_dir / "vocab.json"), str(processor_dir / "merges.txt"))
    image_processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(processor_dir)
    config = CLIPConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=77, bos_token_id=0, eos_token_id=1,
                         pad_token_id=1),
        vision_config=dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                           image_size=32, patch_size=8),
        projection_dim=8, logit_scale_init_value=3.0)
    torch.manual_seed(0)
    CLIPModel(config).save_pretrained(model_dir)


def diffusers_to_native(state: dict) -> dict:
    """Test-only inverse of diffusers' convert_flux2_transformer_checkpoint_to_diffusers, written by hand from
    its rename tables: a diffusers Flux2Transformer2DModel state dict in Black Forest Labs' native flux2 layout
    (fused qkv, RMSNorm ``scale``, final adaLN as (shift, scale))."""
    renames = [("x_embedder", "img_in"), ("context_embedder", "txt_in"),
               ("time_guidance_embed.timestep_embedder.linear_1", "time_in.in_layer"),
               ("time_guidance_embed.timestep_embedder.linear_2", "time_in.out_layer"),
               ("double_stream_modulation_img.linear", "double_stream_modulation_img.lin"),
               ("double_stream_modulation_txt.linear", "double_stream_modulation_txt.lin"),
               ("single_stream_modulation.linear", "single_stream_modulation.lin"), ("proj_out", "final_layer.linear")]
    double = {"attn.norm_q": "img_attn.norm.query_norm", "attn.norm_k": "img_attn.norm.key_norm",
              "attn.to_out.0": "img_attn.proj", "ff.linear_in": "img_mlp.0", "ff.linear_out": "img_mlp.2",
              "attn.norm_added_q": "txt_attn.norm.query_norm", "attn.norm_added_k": "txt_attn.norm.key_norm",
              "attn.to_add_out": "txt_attn.proj", "ff_context.linear_in": "txt_mlp.0",
              "ff_context.linear_out": "txt_mlp.2"}
    single = {"attn.to_qkv_mlp_proj": "linear1", "attn.to_out": "linear2", "attn.norm_q": "norm.query_norm",
              "attn.norm_k": "norm.key_norm"}
    qkv = {"attn.to_q": ("img", 0), "attn.to_k": ("img", 1), "attn.to_v": ("img", 2),
           "attn.add_q_proj": ("txt", 0), "attn.add_k_proj": ("txt", 1), "attn.add_v_proj": ("txt", 2)}
    native, fused = {}, {}
    for key, value in state.items():
        name, param = key.rsplit(".", 1)
        if name == "norm_out.linear":
            shift_last = torch.cat(value.chunk(2, 0)[::-1])  # diffusers (scale, shift) -> native (shift, scale)
            native[f"final_layer.adaLN_modulation.1.{param}"] = shift_last
            continue
        prefix, _, block = name.partition(".")
        if prefix in ("transformer_blocks", "single_transformer_blocks"):
            idx, _, inner = block.partition(".")
            if prefix == "transformer_blocks" and inner in qkv:
                stream, part = qkv[inner]
                fused.setdefault(f"double_blocks.{idx}.{stream}_attn.qkv.{param}", [None] * 3)[part] = value
                continue
            table, out = (double, "double_blocks") if prefix == "transformer_blocks" else (single, "single_blocks")
            native_name = table[inner]
            if "norm" in native_name and param == "weight":
                param = "scale"
            native[f"{out}.{idx}.{native_name}.{param}"] = value
            continue
        for new, old in renames:
            name = name.replace(new, old)
        native[f"{name}.{param}"] = value
    native.update({key: torch.cat(parts) for key, parts in fused.items()})
    return native
