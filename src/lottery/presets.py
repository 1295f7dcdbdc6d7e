"""The paper's settings per model (Frankle & Carbin 2019, Figure 2), plus quick variants.

A preset is a function of nothing that returns complete ExperimentHparams; command-line flags
override single fields of it.
"""

from dataclasses import replace

from .hparams import DatasetHparams, ExperimentHparams, ModelHparams, PruningHparams, TrainingHparams
from .registry import Registry

PRESETS: Registry[tuple[str, ExperimentHparams]] = Registry("preset", __name__)  # name -> (description, hparams)


def register_preset(name: str, description: str, hparams: ExperimentHparams) -> None:
    PRESETS.register(name, (description, hparams))


def preset_names() -> list[str]:
    return PRESETS.names()


def describe_presets() -> str:
    return "\n".join(f"  {name:<18} {PRESETS.get(name)[0]}" for name in preset_names())


def get_preset(name: str) -> ExperimentHparams:
    return PRESETS.get(name)[1]


LENET_MNIST = ExperimentHparams(
    model=ModelHparams("lenet_300_100"),
    dataset=DatasetHparams("mnist"),
    training=TrainingHparams(optimizer="adam", lr=1.2e-3, batch_size=60, iterations=50_000),
    pruning=PruningHparams(fc_rate=0.2, output_rate=0.1),
)
register_preset("lenet", "LeNet-300-100 on MNIST, paper settings (Adam 1.2e-3, 50K its, fc 20%, out 10%)", LENET_MNIST)
register_preset(
    "lenet-digits",
    "LeNet-300-100 on the embedded digits data, 2,000 its (runs anywhere, ~1 min)",
    replace(
        LENET_MNIST,
        dataset=DatasetHparams("digits"),
        training=replace(LENET_MNIST.training, iterations=2_000, eval_every=50),
    ),
)

# Section 3: Conv-2/4/6 on CIFAR-10 (Figure 2): Adam, batch 60, layer-wise pruning per kind of layer.
# With dropout 0.5 on the fully connected layers the paper trains 3x longer at swapped learning rates.
CONV_PAPER = {  # model: (lr, iterations, conv rate, lr with dropout, iterations with dropout)
    "conv2": (2e-4, 20_000, 0.10, 3e-4, 60_000),
    "conv4": (3e-4, 25_000, 0.10, 2e-4, 75_000),
    "conv6": (3e-4, 30_000, 0.15, 2e-4, 90_000),
}
# A few minutes per level on a 2-core CPU (docs/performance.md): same nets, rates and optimizer.
CONV_QUICK = {"conv2": (200, 100), "conv4": (150, 50), "conv6": (100, 50)}  # (iterations, eval every)


def conv_cifar(model: str, dropout: bool = False, quick: tuple[int, int] | None = None) -> ExperimentHparams:
    lr, its, conv_rate, dropout_lr, dropout_its = CONV_PAPER[model]
    training = TrainingHparams(
        optimizer="adam", lr=dropout_lr if dropout else lr, batch_size=60, iterations=dropout_its if dropout else its
    )
    if quick is not None:
        training = replace(training, iterations=quick[0], eval_every=quick[1])
    return ExperimentHparams(
        model=ModelHparams(model, dropout=0.5 if dropout else 0.0),
        dataset=DatasetHparams("cifar10"),
        training=training,
        pruning=PruningHparams(conv_rate=conv_rate, fc_rate=0.2, output_rate=0.1),
    )


def _register_conv_presets() -> None:
    for model, (lr, its, conv_rate, dropout_lr, dropout_its) in CONV_PAPER.items():
        net = f"Conv-{model[-1]}"
        register_preset(
            model,
            f"{net} on CIFAR-10, paper settings (Adam {lr:g}, {its // 1000}K its, "
            f"conv {conv_rate:.0%}, fc 20%, out 10%)",
            conv_cifar(model),
        )
        register_preset(
            f"{model}-dropout",
            f"{net} with dropout 0.5 on the fc layers (Adam {dropout_lr:g}, {dropout_its // 1000}K its)",
            conv_cifar(model, dropout=True),
        )
        its, every = CONV_QUICK[model]
        register_preset(
            f"{model}-quick",
            f"{net} shrunk to {its} its per level, eval every {every}: a CPU try-out (use few --levels)",
            conv_cifar(model, quick=(its, every)),
        )


_register_conv_presets()

# Section 4: deep networks on CIFAR-10 with SGD (momentum 0.9, weight decay 1e-4), step schedules,
# optional linear warmup, and global pruning of 20% of all conv weights per round (the output layer
# and ResNet shortcuts are not pruned: the default global kinds are conv and fc, and these networks
# have no hidden fc layer). Evaluated every 500 iterations: Figures 7-8 read test accuracy at
# multiples of 10K.
_DEEP_PRUNING = PruningHparams(strategy="global", global_rate=0.2)
VGG19_CIFAR = ExperimentHparams(
    model=ModelHparams("vgg19"),
    dataset=DatasetHparams("cifar10"),
    training=TrainingHparams(
        optimizer="sgd",
        lr=0.1,
        momentum=0.9,
        weight_decay=1e-4,
        batch_size=64,
        iterations=112_000,
        eval_every=500,
        lr_drops=(56_000, 84_000),
    ),
    pruning=_DEEP_PRUNING,
)
RESNET18_CIFAR = ExperimentHparams(
    model=ModelHparams("resnet18"),
    dataset=DatasetHparams("cifar10", augment=True),
    training=TrainingHparams(
        optimizer="sgd",
        lr=0.1,
        momentum=0.9,
        weight_decay=1e-4,
        batch_size=128,
        iterations=30_000,
        eval_every=500,
        lr_drops=(20_000, 25_000),
    ),
    pruning=_DEEP_PRUNING,
)


def _with_training(hp: ExperimentHparams, **fields) -> ExperimentHparams:
    return replace(hp, training=replace(hp.training, **fields))


register_preset(
    "vgg19", "VGG-19 on CIFAR-10: SGD 0.1, /10 at 56K+84K of 112K its, batch 64, global conv 20%", VGG19_CIFAR
)
register_preset("vgg19-lr0.01", "vgg19 at learning rate 0.01", _with_training(VGG19_CIFAR, lr=0.01))
register_preset(
    "vgg19-warmup", "vgg19 with linear warmup to 0.1 over 10K its", _with_training(VGG19_CIFAR, warmup=10_000)
)
register_preset(
    "vgg19-quick",
    "vgg19 schedule shrunk to 1,000 its (drops at 500, 750), eval every 250: a CPU try-out",
    _with_training(VGG19_CIFAR, iterations=1_000, lr_drops=(500, 750), eval_every=250),
)
register_preset(
    "resnet18",
    "ResNet-18 (20-layer CIFAR ResNet): SGD 0.1, /10 at 20K+25K of 30K its, batch 128, "
    "flip+crop augmentation, global conv 20%",
    RESNET18_CIFAR,
)
register_preset("resnet18-lr0.01", "resnet18 at learning rate 0.01", _with_training(RESNET18_CIFAR, lr=0.01))
register_preset("resnet18-lr0.03", "resnet18 at learning rate 0.03", _with_training(RESNET18_CIFAR, lr=0.03))
register_preset(
    "resnet18-warmup",
    "resnet18 at learning rate 0.03 with linear warmup over 20K its",
    _with_training(RESNET18_CIFAR, lr=0.03, warmup=20_000),
)
register_preset(
    "resnet18-quick",
    "resnet18 schedule shrunk to 1,500 its (drops at 1,000, 1,250), eval every 250: a CPU try-out",
    _with_training(RESNET18_CIFAR, iterations=1_500, lr_drops=(1_000, 1_250), eval_every=250),
)
