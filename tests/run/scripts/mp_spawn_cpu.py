"""Data-parallel training on the CPU, with worker processes started by mp.spawn."""

import argparse

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel


def worker(index, args):
    rank = args.node_rank * args.procs + index
    dist.init_process_group(
        "gloo", init_method=args.dist_url, world_size=args.procs, rank=rank
    )
    torch.manual_seed(0)
    model = DistributedDataParallel(torch.nn.Linear(4, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    generator = torch.Generator().manual_seed(rank)
    for it in range(args.iters):
        x = torch.randn(8, 4, generator=generator)
        loss = F.mse_loss(model(x), x.sum(dim=1, keepdim=True))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if index == 0 and it % args.print_every == 0:
            print(f"it {it} loss {loss.item():.4f}")
    if rank == 0:
        torch.save(model.module.state_dict(), "linear.pt")
    dist.destroy_process_group()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--node-rank", type=int, default=0)
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--lr", type=float, default=0.02)
    parser.add_argument("--print-every", type=int, default=4)
    parser.add_argument("--dist-url", default="tcp://127.0.0.1:29533")
    args = parser.parse_args()
    mp.spawn(worker, nprocs=args.procs, args=(args,))


if __name__ == "__main__":
    main()
