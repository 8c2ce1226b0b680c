//! Optimisers whose state is plain tensors, saved in every checkpoint, so a
//! resumed run continues exactly where the interrupted one stopped.

use tch::Tensor;

use crate::config::Optimizer;

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

    pub fn zero_grad(&mut self) {
        for p in &mut self.params {
            p.zero_grad();
        }
    }

    /// One update with learning rate `lr` from the current gradients.
    pub fn step(&mut self, lr: f64) {
        self.steps += 1;
        tch::no_grad(|| {
            for i in 0..self.params.len() {
                let p = &mut self.params[i];
                let grad = p.grad();
                if !grad.defined() {
                    continue;
                }
                let mut g = if self.weight_decay != 0.0 {
                    &grad + &*p * self.weight_decay
                } else {
                    grad
                };
                match self.kind {
                    Optimizer::Sgd { momentum } => {
                        let buf = &mut self.first[i];
                        let _ = buf.g_mul_scalar_(momentum).g_add_(&g);
                        g = &g + &*buf * momentum;
                        let _ = p.g_sub_(&(g * lr));
                    }
                    Optimizer::Adam { beta1, beta2 } => {
                        // PyTorch's single-tensor Adam, op for op.
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
