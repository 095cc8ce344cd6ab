"""A small classifier on the breast cancer data in PyTorch, with xent.nn.BCEWithLogitsLoss.

Run: python examples/train_torch.py
"""

import torch
from _data import breast_cancer

import xent.nn

torch.manual_seed(0)
x_train, y_train, x_test, y_test = (torch.from_numpy(a).float() for a in breast_cancer())
model = torch.nn.Sequential(
    torch.nn.Linear(x_train.shape[1], 16), torch.nn.ReLU(), torch.nn.Linear(16, 1)
)
criterion = xent.nn.BCEWithLogitsLoss(pos_weight=torch.tensor([0.6]))
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
for _ in range(200):
    optimizer.zero_grad()
    loss = criterion(model(x_train).squeeze(-1), y_train)
    loss.backward()
    optimizer.step()
with torch.no_grad():
    accuracy = ((model(x_test).squeeze(-1) > 0) == (y_test == 1)).float().mean().item()
print(f"torch: final loss {loss.item():.4f}, test accuracy {accuracy:.3f}")
