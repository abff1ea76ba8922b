"""Data-parallel training with Lightning Fabric: two CPU processes Fabric launches."""

import argparse

import lightning as L
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=0.05)
    args = parser.parse_args()

    fabric = L.Fabric(accelerator="cpu", devices=2, strategy="ddp")
    fabric.launch()
    fabric.seed_everything(0)
    x = torch.randn(256, 8)
    y = x.sum(dim=1, keepdim=True)
    loader = fabric.setup_dataloaders(DataLoader(TensorDataset(x, y), batch_size=16))
    model = torch.nn.Linear(8, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    model, optimizer = fabric.setup(model, optimizer)

    for epoch in range(args.epochs):
        for data, target in loader:
            optimizer.zero_grad()
            loss = F.mse_loss(model(data), target)
            fabric.backward(loss)
            optimizer.step()
        fabric.print(f"epoch {epoch} loss {loss.item():.4f}")


if __name__ == "__main__":
    main()
