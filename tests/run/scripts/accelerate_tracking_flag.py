"""Accelerate with its trackers behind --with_tracking, as Accelerate's examples do."""

import argparse

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from torch.utils.data import DataLoader, TensorDataset


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--with_tracking", action="store_true")
    parser.add_argument("--report_to", default="all")
    args = parser.parse_args()
    log_with = args.report_to if args.with_tracking else None
    accelerator = Accelerator(cpu=True, log_with=log_with)
    if args.with_tracking:
        accelerator.init_trackers("tracking-flag", vars(args))
    torch.manual_seed(0)
    x = torch.randn(64, 4)
    loader = DataLoader(TensorDataset(x, x.sum(dim=1, keepdim=True)), batch_size=8)
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    for epoch in range(args.epochs):
        total = 0.0
        for data, target in loader:
            loss = F.mse_loss(model(data), target)
            accelerator.backward(loss)
            optimizer.step()
            optimizer.zero_grad()
            total += loss.item()
        if args.with_tracking:
            accelerator.log({"train_loss": total / len(loader)}, step=epoch)
    if args.with_tracking:
        accelerator.end_training()


if __name__ == "__main__":
    main()
