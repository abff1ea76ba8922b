"""Train a small convolutional network on MNIST digits: the README's example target."""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from torch import nn, optim
from torch.optim.lr_scheduler import StepLR
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

# Mean and standard deviation of MNIST pixel values, over the training set.
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081


class DigitNet(nn.Module):
    """Two convolutions, max pooling, then two dense layers over ten classes."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, kernel_size=3)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3)
        self.dropout_conv = nn.Dropout(0.25)
        self.dropout_dense = nn.Dropout(0.5)
        self.dense1 = nn.Linear(9216, 128)
        self.dense2 = nn.Linear(128, 10)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = F.relu(self.conv1(images))
        features = F.max_pool2d(F.relu(self.conv2(features)), 2)
        features = torch.flatten(self.dropout_conv(features), 1)
        features = self.dropout_dense(F.relu(self.dense1(features)))
        return F.log_softmax(self.dense2(features), dim=1)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Train a CNN on MNIST")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--test-batch-size", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=14)
    parser.add_argument("--lr", type=float, default=1.0)
    parser.add_argument("--gamma", type=float, default=0.7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-interval", type=int, default=10)
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--no-cuda", action="store_true")
    parser.add_argument("--save-model", default="mnist_cnn.pt")
    return parser.parse_args()


def make_loaders(args: argparse.Namespace) -> tuple[DataLoader, DataLoader]:
    to_tensor = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((MNIST_MEAN,), (MNIST_STD,))]
    )
    train_set = datasets.MNIST(
        args.data_dir, train=True, download=True, transform=to_tensor
    )
    test_set = datasets.MNIST(args.data_dir, train=False, transform=to_tensor)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=args.test_batch_size)
    return train_loader, test_loader


def train(args, model, device, train_loader, optimizer, epoch):
    model.train()
    for batch_idx, (images, labels) in enumerate(train_loader):
        images, labels = images.to(device), labels.to(device)
        optimizer.zero_grad()
        loss = F.nll_loss(model(images), labels)
        loss.backward()
        optimizer.step()
        if batch_idx % args.log_interval == 0:
            seen = batch_idx * len(images)
            print(
                f"epoch {epoch} [{seen}/{len(train_loader.dataset)}] "
                f"loss {loss.item():.4f}"
            )


def test(model, device, test_loader):
    model.eval()
    test_loss = 0.0
    correct = 0
    with torch.no_grad():
        for images, labels in test_loader:
            images, labels = images.to(device), labels.to(device)
            output = model(images)
            test_loss += F.nll_loss(output, labels, reduction="sum").item()
            correct += (output.argmax(dim=1) == labels).sum().item()
    test_loss /= len(test_loader.dataset)
    accuracy = 100.0 * correct / len(test_loader.dataset)
    print(f"test loss {test_loss:.4f}, accuracy {accuracy:.2f}%")
    return test_loss, accuracy


def main() -> None:
    args = parse_args()
    torch.manual_seed(args.seed)
    use_cuda = torch.cuda.is_available() and not args.no_cuda
    device = torch.device("cuda" if use_cuda else "cpu")

    train_loader, test_loader = make_loaders(args)
    model = DigitNet().to(device)
    optimizer = optim.Adadelta(model.parameters(), lr=args.lr)
    scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)

    for epoch in range(1, args.epochs + 1):
        train(args, model, device, train_loader, optimizer, epoch)
        test(model, device, test_loader)
        scheduler.step()

    torch.save(model.state_dict(), args.save_model)


if __name__ == "__main__":
    main()
