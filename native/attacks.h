// The training objectives of the removal attacks (wmnn attack), beside the original's
// cross-entropy: Hinton et al.'s distillation loss on a teacher's soft labels.
#pragma once

#include <napi.h>
#include <torch/torch.h>

namespace wmnn {

// softmax(teacher_logits / T): the soft labels a distilling attacker trains on.
torch::Tensor soft_targets(const torch::Tensor& teacher_logits, double temperature);
// T^2 * KL(targets || softmax(student_logits / T)), the batch mean -- PyTorch's
// F.kl_div(F.log_softmax(s / T, 1), targets, reduction='batchmean') * T * T. The T^2 keeps the
// gradient's scale independent of T (Hinton et al. 2015).
torch::Tensor soft_target_loss(const torch::Tensor& student_logits, const torch::Tensor& targets, double temperature);

// Adds `softTargetLoss(student, teacher: Float32Array (N*C), n, c, T) => {loss, grad}` (the
// gradient with respect to the student's logits) to exports, for the reference tests.
void RegisterAttacks(Napi::Env env, Napi::Object exports);

}  // namespace wmnn
