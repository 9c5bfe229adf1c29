"""A CUDA device played by the CPU, so that mixed-device code fails here as it would on a GPU.

Under `FakeCuda()`, `torch.cuda.is_available()` is true, so `default_device()` is 'cuda'. A tensor sent to 'cuda'
(`.to`, `.cuda()`, a factory with `device=`) stays in CPU memory but is *marked*: it reports `device == cuda`, and so
does everything computed from it. An operation that combines a marked tensor with an unmarked one of one element or
more raises `MixedDevice`, as CUDA raises "Expected all tensors to be on the same device"; `.numpy()` of a marked
tensor raises as on CUDA. Like CUDA, it allows 0-dimensional CPU tensors as scalars, CPU index tensors in indexing,
and copies across devices.
"""
import weakref
from contextlib import ExitStack
from unittest import mock
import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten, tree_map

CUDA, CPU = torch.device('cuda', 0), torch.device('cpu')
_DEVICE, _IS_CUDA = torch.Tensor.device.__get__, torch.Tensor.is_cuda.__get__
_DATA_SET = torch.Tensor.data.__set__
_WRITES = {'__setitem__', 'copy_', 'index_put_', 'set_'}  # write into their first argument, which keeps its device
_ALLOWED = _WRITES | {'__getitem__', '__repr__', '__format__', '_has_compatible_shallow_copy_type'}


class MixedDevice(RuntimeError): pass


def _is_cuda(d) -> bool:
    if isinstance(d, int): return True
    if isinstance(d, str): return d.startswith('cuda')
    return isinstance(d, torch.device) and d.type == 'cuda'


def _is_device(d) -> bool:
    return isinstance(d, (torch.device, str)) and (not isinstance(d, str) or d.split(':')[0] in ('cpu', 'cuda', 'meta'))


class FakeCuda(TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.marked = {}  # id(tensor) -> weak reference
        self.stack = ExitStack()

    def mark(self, t):
        if isinstance(t, torch.Tensor):
            k = id(t)
            self.marked[k] = weakref.ref(t, lambda _, k=k: self.marked.pop(k, None))
        return t

    def on(self, t) -> bool:
        r = self.marked.get(id(t))
        return r is not None and r() is t

    def __enter__(self):
        s = self.stack
        for name, value in (('is_available', True), ('device_count', 1), ('get_device_capability', (8, 0)),
                            ('current_device', 0), ('memory_allocated', 0), ('max_memory_allocated', 0)):
            s.enter_context(mock.patch(f'torch.cuda.{name}', lambda *a, v=value, **k: v))
        for name in ('empty_cache', 'synchronize', 'reset_peak_memory_stats', 'set_device'):
            s.enter_context(mock.patch(f'torch.cuda.{name}', lambda *a, **k: None))
        new = torch.nn.Parameter.__new__
        def parameter(cls, data=None, requires_grad=True):  # a Parameter made from a 'cuda' tensor is on 'cuda'
            p = new(cls, data, requires_grad)
            return self.mark(p) if data is not None and self.on(data) else p
        s.enter_context(mock.patch.object(torch.nn.Parameter, '__new__', parameter))
        return super().__enter__()

    def __exit__(self, *exc):
        try: return super().__exit__(*exc)
        finally: self.stack.close()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        name = getattr(func, '__name__', '')
        if func == _DEVICE: return CUDA if self.on(args[0]) else CPU
        if func == _IS_CUDA: return self.on(args[0])
        if func == _DATA_SET:  # param.data = marked (how Module.to moves a parameter)
            out = func(*args, **kwargs)
            if self.on(args[1]): self.mark(args[0])
            else: self.marked.pop(id(args[0]), None)
            return out
        if name in ('cuda', 'cpu') and isinstance(args[0], torch.Tensor):
            t = args[0]
            if name == 'cuda': return t if self.on(t) else self.mark(t.clone())
            return t.clone() if self.on(t) else t
        if name == '__deepcopy__':  # the memo holds other tensors: only the copied one decides
            out = func(*args, **kwargs)
            return self.mark(out) if self.on(args[0]) else out
        if name == 'numpy' and self.on(args[0]):
            raise MixedDevice("can't convert a cuda tensor to numpy: use .cpu() first")
        target = None  # an explicit device the call asks for
        if 'device' in kwargs and kwargs['device'] is not None:
            target = _is_cuda(kwargs['device']); kwargs['device'] = CPU if target else kwargs['device']
        if name == 'to':
            rest = list(args[1:])
            for i, a in enumerate(rest):
                if isinstance(a, torch.Tensor): target = self.on(a); rest[i] = a.dtype
                elif _is_device(a) or isinstance(a, int) and not isinstance(a, bool):
                    target = _is_cuda(a); rest[i] = CPU
            args = (args[0], *rest)
            if target is False and self.on(args[0]): kwargs['copy'] = True  # to the CPU: a real copy, not marked
        flat = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
        ons = [t for t in flat if self.on(t)]
        offs = [t for t in flat if not self.on(t) and t.dim() > 0]
        if ons and offs and name not in _ALLOWED and name != 'to':
            raise MixedDevice(f"{name or func}: expected all tensors to be on the same device, found cuda and cpu "
                              f"(cpu shapes {[tuple(t.shape) for t in offs][:4]})")
        if name == '__getitem__' and not self.on(args[0]) and ons:  # CUDA indices into a CPU tensor
            raise MixedDevice("indexing a cpu tensor with cuda indices")
        out = func(*args, **kwargs)
        if name in _WRITES: return out
        if target is True and any(out is t and not self.on(t) for t in flat):  # .to('cuda') of a CPU tensor is a copy on CUDA:
            out = out.clone()                                                  # the caller's tensor stays on the CPU
        if target is True or (target is None and ons):
            tree_map(lambda t: self.mark(t) if isinstance(t, torch.Tensor) else t, out)
        return out
