"""Time training iterations of the deep networks (VGG-19, ResNet-18) on synthetic CIFAR-sized data.

Runs the same pieces as lottery's training loop (seeded batch stream, flip-and-crop augmentation,
SGD with momentum and weight decay, masked gradients at 50% density) for a few iterations and
scales to 1,000 iterations; also times evaluation. Example:

    python scripts/time_deep.py --model resnet18 --batch-size 128 --iterations 30
"""

import argparse
import time

import torch
import torch.nn.functional as F

from lottery.data import BatchStream
from lottery.data.augment import flip_and_crop
from lottery.hparams import TrainingHparams
from lottery.models import get_model_spec
from lottery.training import evaluate, make_optimizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--iterations", type=int, default=30, help="timed iterations (after 3 untimed ones)")
    parser.add_argument("--eval-images", type=int, default=1000)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, help="CPU threads (default: PyTorch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    device = torch.device(args.device)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4 * args.batch_size, 3, 32, 32, generator=g).to(device)
    y = torch.randint(0, 10, (len(x),), generator=g).to(device)
    model = get_model_spec(args.model).build((3, 32, 32), 10).to(device)
    model.reset_parameters(g)
    params = dict(model.named_parameters())
    masked = [params[n] for n in model.prunable_kinds()]
    masks = [(torch.rand(p.shape, generator=g) < 0.5).to(device, p.dtype) for p in masked]
    optimizer = make_optimizer(model.parameters(), TrainingHparams(optimizer="sgd", lr=0.1, weight_decay=1e-4))
    stream = BatchStream(x, y, args.batch_size, seed=0, augment=flip_and_crop)

    def step(it: int) -> None:
        xb, yb = stream.batch(it)
        loss = F.cross_entropy(model(xb), yb)
        optimizer.zero_grad(set_to_none=False)
        loss.backward()
        torch._foreach_mul_([p.grad for p in masked], masks)
        optimizer.step()

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    model.train()
    for it in range(3):
        step(it)
    sync()
    began = time.perf_counter()
    for it in range(3, 3 + args.iterations):
        step(it)
    sync()
    per_iteration = (time.perf_counter() - began) / args.iterations

    ex = torch.randn(args.eval_images, 3, 32, 32, generator=g).to(device)
    ey = torch.randint(0, 10, (args.eval_images,), generator=g).to(device)
    evaluate(model, ex[:8], ey[:8])
    sync()
    began = time.perf_counter()
    evaluate(model, ex, ey)
    sync()
    per_image = (time.perf_counter() - began) / args.eval_images
    print(
        f"{args.model} batch {args.batch_size} on {device} ({torch.get_num_threads()} threads): "
        f"{per_iteration * 1000:.0f} s per 1,000 training iterations "
        f"({per_iteration * 1000:.0f} ms/it over {args.iterations}); "
        f"evaluation {per_image * 1e4:.1f} s per 10,000 images"
    )


if __name__ == "__main__":
    main()
