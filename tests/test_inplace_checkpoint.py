"`set_weight_matrix` writes pruned weights into the weight's own storage: a checkpoint the model was loaded from must stay as it was on disk."
import hashlib, torch
from transformers import LlamaConfig, LlamaForCausalLM
from rotprune.core import set_weight_matrix

def test_in_place_writes_leave_the_loaded_checkpoint_unchanged(tmp_path):
    cfg = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)
    LlamaForCausalLM(cfg).save_pretrained(tmp_path)
    f = tmp_path / 'model.safetensors'
    digest = hashlib.sha256(f.read_bytes()).hexdigest()
    m = LlamaForCausalLM.from_pretrained(tmp_path)  # safetensors: the weights are memory-mapped from `f`
    lins = [mod for mod in m.modules() if isinstance(mod, torch.nn.Linear)]
    ptrs = [mod.weight.data_ptr() for mod in lins]
    for mod in lins: set_weight_matrix(mod, torch.zeros_like(mod.weight))
    assert [mod.weight.data_ptr() for mod in lins] == ptrs  # written in place, not replaced
    assert all(mod.weight.abs().sum() == 0 for mod in lins)
    assert hashlib.sha256(f.read_bytes()).hexdigest() == digest, "pruning in place wrote into the user's checkpoint file"
    assert LlamaForCausalLM.from_pretrained(tmp_path).model.layers[0].mlp.down_proj.weight.abs().sum() > 0
