"""LeNet-5 on MNIST in plain PyTorch, written as a PyTorch user would: the whole training set
as one float tensor (no per-step conversion), a fresh permutation each epoch, model.train(),
zero_grad(set_to_none=True), losses summed on the device and read once per epoch.

The same model and optimizer as `nnkit digits train --model lenet5` without augmentation; batch
norm takes Keras's momentum and epsilon so both sides normalise alike.
"""

import torch
from torch import nn

from runner import Clock, arguments, report
from torch_init import keras_initialization


def unit(layer, features):
    return [layer, nn.BatchNorm2d(features, momentum=0.01, eps=1e-3) if isinstance(layer, nn.Conv2d)
            else nn.BatchNorm1d(features, momentum=0.01, eps=1e-3), nn.ReLU()]


def lenet5(dropout):
    model = nn.Sequential(
        *unit(nn.Conv2d(1, 6, 5, padding=2, bias=False), 6),
        nn.MaxPool2d(2),
        *unit(nn.Conv2d(6, 16, 5, bias=False), 16),
        nn.MaxPool2d(2),
        nn.Flatten(),
        *unit(nn.Linear(16 * 5 * 5, 120, bias=False), 120),
        *unit(nn.Linear(120, 84, bias=False), 84),
        nn.Dropout(dropout),
        nn.Linear(84, 10),
    )
    keras_initialization(model)  # the softmax layer's glorot_uniform
    for module in model.modules():  # he_normal elsewhere, as nnkit's config says
        if isinstance(module, (nn.Conv2d, nn.Linear)) and module.bias is None:
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    return model


def main():
    args, data, meta = arguments(__doc__)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model_config, training = meta["config"]["model"], meta["config"]["training"]
    images = torch.from_numpy(data["x"]).float().div_(255).reshape(-1, 1, 28, 28)
    labels = torch.from_numpy(data["y"]).long()
    model = lenet5(model_config["dropout"])
    optimizer = torch.optim.Adam(model.parameters(), lr=training["learning_rate"], eps=1e-7)
    loss_function = nn.CrossEntropyLoss()
    batch_size = training["batch_size"]
    steps = -(-len(images) // batch_size)
    clock = Clock()
    model.train()
    for _ in range(args.epochs):
        clock.start()
        order = torch.randperm(len(images))
        total = torch.zeros(())
        for step in range(steps):
            rows = order[step * batch_size:(step + 1) * batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_function(model(images[rows]), labels[rows])
            loss.backward()
            optimizer.step()
            total += loss.detach()
        clock.stop(total / steps)
    report(clock, steps)


if __name__ == "__main__":
    main()
