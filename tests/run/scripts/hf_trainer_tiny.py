"""A tiny, randomly initialised BERT classifier trained with the Trainer."""

import torch
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    Trainer,
    TrainingArguments,
)


class Toy(torch.utils.data.Dataset):
    def __init__(self, size):
        generator = torch.Generator().manual_seed(size)
        self.ids = torch.randint(0, 50, (size, 12), generator=generator)

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, index):
        ids = self.ids[index]
        return {"input_ids": ids, "labels": int(ids[0] % 2)}


def main():
    config = BertConfig(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=16,
        num_labels=2,
    )
    args = TrainingArguments(
        output_dir="out",
        max_steps=8,
        learning_rate=1e-3,
        logging_steps=2,
        per_device_train_batch_size=4,
        eval_strategy="steps",
        eval_steps=4,
        save_strategy="no",
        use_cpu=True,
        disable_tqdm=True,
        report_to="none",
    )
    trainer = Trainer(
        model=BertForSequenceClassification(config),
        args=args,
        train_dataset=Toy(32),
        eval_dataset=Toy(8),
    )
    trainer.train()


if __name__ == "__main__":
    main()
