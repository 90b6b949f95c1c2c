#include "attacks.h"

#include "convert.h"

namespace wmnn {
namespace F = torch::nn::functional;

torch::Tensor soft_targets(const torch::Tensor& teacher_logits, double temperature) {
  TORCH_CHECK(temperature > 0, "the distillation temperature must be positive, got ", temperature);
  return F::softmax(teacher_logits.to(torch::kFloat32) / temperature, F::SoftmaxFuncOptions(1));
}

torch::Tensor soft_target_loss(const torch::Tensor& student_logits, const torch::Tensor& targets, double temperature) {
  TORCH_CHECK(student_logits.sizes() == targets.sizes(), "student logits ", student_logits.sizes(),
              " and soft targets ", targets.sizes(), " differ in shape");
  auto log_p = F::log_softmax(student_logits / temperature, F::LogSoftmaxFuncOptions(1));
  return F::kl_div(log_p, targets, F::KLDivFuncOptions().reduction(torch::kBatchMean)) * (temperature * temperature);
}

namespace {
Napi::Value SoftTargetLossJs(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    const int64_t n = info[2].As<Napi::Number>().Int64Value(), c = info[3].As<Napi::Number>().Int64Value();
    const double t = info[4].As<Napi::Number>().DoubleValue();
    auto student = tensor_from_typed_array(info[0].As<Napi::TypedArray>(), {n, c}).requires_grad_(true);
    auto teacher = tensor_from_typed_array(info[1].As<Napi::TypedArray>(), {n, c});
    auto loss = soft_target_loss(student, soft_targets(teacher, t), t);
    loss.backward();
    auto o = Napi::Object::New(info.Env());
    o.Set("loss", loss.item<double>());
    o.Set("grad", tensor_to_js(info.Env(), student.grad()));
    return o;
  });
}
}  // namespace

void RegisterAttacks(Napi::Env env, Napi::Object exports) {
  exports.Set("softTargetLoss", Napi::Function::New(env, SoftTargetLossJs, "softTargetLoss"));
}

}  // namespace wmnn
