//! Optimisers whose state is plain tensors, saved in every checkpoint, so a
//! resumed run continues exactly where the interrupted one stopped.

use tch::Tensor;

use crate::config::Optimizer;
use crate::cpu;

/// SGD (Nesterov momentum) or Adam over a fixed list of parameters.
pub struct Optim {
    kind: Optimizer,
    weight_decay: f64,
    params: Vec<Tensor>,
    /// Momentum buffers (SGD) or first moments (Adam).
    first: Vec<Tensor>,
    /// Second moments (Adam).
    second: Vec<Tensor>,
    /// Steps taken (Adam's bias correction).
    steps: i64,
}

impl Optim {
    pub fn new(kind: Optimizer, weight_decay: f64, params: Vec<Tensor>) -> Self {
        let zeros = |ps: &[Tensor]| ps.iter().map(Tensor::zeros_like).collect();
        let first = zeros(&params);
        let second = zeros(&params);
        Self {
            kind,
            weight_decay,
            params,
            first,
            second,
            steps: 0,
        }
    }

    /// The parameters, in the order of the optimiser's state.
    pub fn params(&self) -> &[Tensor] {
        &self.params
    }

    pub fn zero_grad(&mut self) {
        for p in &mut self.params {
            p.zero_grad();
        }
    }

    /// One update with learning rate `lr` from the gradients accumulated in
    /// the parameters by `backward`.
    pub fn step(&mut self, lr: f64) {
        let grads: Vec<Tensor> = self.params.iter().map(Tensor::grad).collect();
        self.step_with(&grads, lr);
    }

    /// One update with learning rate `lr` from `grads` (one per parameter, in
    /// the order of [`params`](Self::params); an undefined gradient leaves
    /// its parameter alone), as `Tensor::run_backward` returns them: no
    /// gradient buffers to zero or accumulate into.
    pub fn step_with(&mut self, grads: &[Tensor], lr: f64) {
        assert_eq!(grads.len(), self.params.len(), "one gradient per parameter");
        self.steps += 1;
        tch::no_grad(|| {
            for (i, grad) in grads.iter().enumerate() {
                if !grad.defined() {
                    continue;
                }
                match self.kind {
                    Optimizer::Adam { beta1, beta2 } if fast_path(&self.params[i], grad) => {
                        let grad = grad.contiguous();
                        let h = AdamHyper::new(beta1, beta2, lr, self.weight_decay, self.steps);
                        // SAFETY: parameter, gradient and moments are distinct
                        // contiguous f32 CPU tensors of the same size (checked
                        // by `fast_path` and by construction of the moments),
                        // and nothing else reads them during the update.
                        unsafe {
                            adam_cpu(
                                cpu::f32s_mut(&self.params[i]),
                                cpu::f32s(&grad),
                                cpu::f32s_mut(&self.first[i]),
                                cpu::f32s_mut(&self.second[i]),
                                &h,
                            )
                        };
                    }
                    Optimizer::Adam { beta1, beta2 } => {
                        // PyTorch's single-tensor Adam, op for op.
                        let p = &mut self.params[i];
                        let g = if self.weight_decay != 0.0 {
                            grad + &*p * self.weight_decay
                        } else {
                            grad.shallow_clone()
                        };
                        let t = self.steps as i32;
                        let (m, v) = (&mut self.first[i], &mut self.second[i]);
                        let _ = m.lerp_(&g, 1.0 - beta1);
                        let _ = v.g_mul_scalar_(beta2);
                        let _ = v.addcmul_(&(&g * (1.0 - beta2)), &g);
                        let step_size = lr / (1.0 - beta1.powi(t));
                        let mut denom = v.sqrt() / (1.0 - beta2.powi(t)).sqrt();
                        let _ = denom.g_add_scalar_(1e-8);
                        let _ = p.addcdiv_(&(&*m * -step_size), &denom);
                    }
                    Optimizer::Sgd { momentum } => {
                        let p = &mut self.params[i];
                        let mut g = if self.weight_decay != 0.0 {
                            grad + &*p * self.weight_decay
                        } else {
                            grad.shallow_clone()
                        };
                        let buf = &mut self.first[i];
                        let _ = buf.g_mul_scalar_(momentum).g_add_(&g);
                        g = &g + &*buf * momentum;
                        let _ = p.g_sub_(&(g * lr));
                    }
                }
            }
        });
    }

    /// The state to checkpoint, by name.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut out = vec![("steps".to_owned(), Tensor::from(self.steps))];
        for (i, (m, v)) in self.first.iter().zip(&self.second).enumerate() {
            out.push((format!("first.{i}"), m.shallow_clone()));
            out.push((format!("second.{i}"), v.shallow_clone()));
        }
        out
    }

    /// Restores the state written by [`state`](Self::state).
    pub fn load_state(&mut self, named: &[(String, Tensor)]) -> Result<(), String> {
        let find = |name: &str| {
            named
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, t)| t)
                .ok_or_else(|| format!("optimiser state has no {name}: the checkpoint is from another model or version"))
        };
        self.steps = find("steps")?.int64_value(&[]);
        for i in 0..self.first.len() {
            for (slot, name) in [
                (&mut self.first[i], format!("first.{i}")),
                (&mut self.second[i], format!("second.{i}")),
            ] {
                let t = find(&name)?;
                if t.size() != slot.size() {
                    return Err(format!(
                        "optimiser state {name} has shape {:?}, the model needs {:?}",
                        t.size(),
                        slot.size()
                    ));
                }
                tch::no_grad(|| slot.copy_(t));
            }
        }
        Ok(())
    }
}

/// Whether the single-pass CPU Adam applies: f32 CPU tensors of one shape,
/// the parameter contiguous (its moments are made like it).
fn fast_path(param: &Tensor, grad: &Tensor) -> bool {
    cpu::is_plain_f32(param)
        && grad.device() == tch::Device::Cpu
        && grad.kind() == tch::Kind::Float
        && param.size() == grad.size()
}

/// Adam's per-step constants, as PyTorch rounds them to f32.
struct AdamHyper {
    /// 1 - beta1, the weight of `lerp`.
    lerp: f32,
    beta2: f32,
    one_minus_beta2: f32,
    /// sqrt(1 - beta2^t).
    bias2_sqrt: f32,
    /// -lr / (1 - beta1^t).
    neg_step: f32,
    eps: f32,
    weight_decay: f32,
}

impl AdamHyper {
    fn new(beta1: f64, beta2: f64, lr: f64, weight_decay: f64, steps: i64) -> Self {
        let t = steps as i32;
        Self {
            lerp: (1.0 - beta1) as f32,
            beta2: beta2 as f32,
            one_minus_beta2: (1.0 - beta2) as f32,
            bias2_sqrt: (1.0 - beta2.powi(t)).sqrt() as f32,
            neg_step: (-lr / (1.0 - beta1.powi(t))) as f32,
            eps: 1e-8,
            weight_decay: weight_decay as f32,
        }
    }
}

/// One Adam update in a single pass over the four arrays: the arithmetic of
/// PyTorch's single-tensor Adam (lerp, mul, addcmul, sqrt, div, add,
/// addcdiv) per element in f32, which the eager version spreads over ten
/// passes. Memory-bound, so this is several times faster on CPU.
fn adam_cpu(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], h: &AdamHyper) {
    let n = p.len();
    let (g, m, v) = (&g[..n], &mut m[..n], &mut v[..n]);
    for i in 0..n {
        let grad = if h.weight_decay != 0.0 {
            g[i] + p[i] * h.weight_decay
        } else {
            g[i]
        };
        // lerp with weight < 0.5: m + w * (g - m)
        let mi = m[i] + h.lerp * (grad - m[i]);
        let vi = v[i] * h.beta2 + (grad * h.one_minus_beta2) * grad;
        let denom = vi.sqrt() / h.bias2_sqrt + h.eps;
        p[i] += (mi * h.neg_step) / denom;
        m[i] = mi;
        v[i] = vi;
    }
}
