/* e-prop per-phase kernels for one PE slice (spec eprop_gsc.md §2.2, §2.3, §2.4, §4.2), C99 float.
 *
 * These are not run by s2sim: tools/calibrate_kernels.py compiles them for the Cortex-M4F and runs
 * llvm-mca on each loop to derive the cycles the firmware charges (firmware_models/eprop/firmware.py).
 * One function per costed phase; every loop bound is a parameter so one kernel serves every slice.
 * Layouts: weights and per-synapse state are [pre][post] (m = n_in + n_rec presynaptic rows of the
 * slice's n post neurons), the layout of the firmware (firmware.py: W is P x N) and of the authors'
 * code. The kernels the firmware charges run their inner loop over the contiguous post index;
 * eprop_eligibility_post_pre keeps the [post][pre] alternative (coefficients in registers, spec §4.3)
 * for comparison. Pointers are restrict: a port keeps each array in its own SRAM region.
 */
#include <math.h>

/* Exp/log accelerator call, stubbed: a fixed-latency intrinsic (latency from the arch YAML). */
extern float s2_exp_accel(float x);

/* forward: I[j] = sum_i u[i] * W[i][j], u = (x_t, z_{t-1}) (S4, dense input + recurrent), W [pre][post]:
 * a dot product down column j (stride n_post; the Cortex-M4 has no cache, so a stride costs only the
 * pointer step). */
void dense_mac(int n_post, int m_pre, const float *restrict w, const float *restrict u,
               float *restrict current)
{
    for (int j = 0; j < n_post; j++) {
        const float *col = w + j;
        float acc = 0.0f;
        for (int i = 0; i < m_pre; i++)
            acc += col[i * n_post] * u[i];
        current[j] = acc;
    }
}

/* forward, event-driven recurrent input: one spike adds its dense weight row (per spike x post). */
void event_add_dense(int n_post, const float *restrict row, float *restrict current)
{
    for (int j = 0; j < n_post; j++)
        current[j] += row[j];
}

/* neuron: ALIF update S3, S5-S8, S10 and the readout-gradient sum S19 (per neuron). */
void eprop_neuron_update(int n, const float *restrict current, const float *restrict beta,
                         float *restrict v, float *restrict b, float *restrict z,
                         float *restrict v_s, float *restrict zbar, float *restrict zbar_sum,
                         float alpha, float rho, float kappa, float v_th)
{
    for (int j = 0; j < n; j++) {
        float z_prev = z[j];
        float bj = rho * b[j] + (1.0f - rho) * z_prev;
        float a = v_th + beta[j] * bj;
        float vj = alpha * v[j] + (1.0f - alpha) * current[j] - z_prev * a;
        float vs = vj - a;
        float zj = vs > 0.0f ? 1.0f : 0.0f;
        float zb = kappa * zbar[j] + zj;
        b[j] = bj;
        v[j] = vj;
        v_s[j] = vs;
        z[j] = zj;
        zbar[j] = zb;
        zbar_sum[j] += zb;
    }
}

/* surrogate psi(v_s) (spec §1.3) and the four hoisted eligibility coefficients (§4.2), with libm expf. */
void eprop_surrogate_expf(int n, const float *restrict v_s, const float *restrict beta,
                          float *restrict d, float *restrict c, float *restrict p, float *restrict q,
                          float alpha, float rho)
{
    const float a0 = 0.45878362f, a1 = 0.00997356f;
    for (int j = 0; j < n; j++) {
        float x = v_s[j];
        float xm = x - 0.5f, xp = x + 0.5f;
        float psi = a0 * expf(-2.0f * x * x)
                  - a1 * (expf(xm * xm * (-1.0f / 18.0f)) + expf(xp * xp * (-1.0f / 18.0f)));
        d[j] = rho - (1.0f - rho) * beta[j] * psi;
        c[j] = (1.0f - alpha) * (1.0f - rho) * psi;
        p[j] = (1.0f - alpha) * psi;
        q[j] = beta[j] * psi;
    }
}

/* surrogate, with the exp accelerator in place of expf. */
void eprop_surrogate_accel(int n, const float *restrict v_s, const float *restrict beta,
                           float *restrict d, float *restrict c, float *restrict p, float *restrict q,
                           float alpha, float rho)
{
    const float a0 = 0.45878362f, a1 = 0.00997356f;
    for (int j = 0; j < n; j++) {
        float x = v_s[j];
        float xm = x - 0.5f, xp = x + 0.5f;
        float psi = a0 * s2_exp_accel(-2.0f * x * x)
                  - a1 * (s2_exp_accel(xm * xm * (-1.0f / 18.0f)) + s2_exp_accel(xp * xp * (-1.0f / 18.0f)));
        d[j] = rho - (1.0f - rho) * beta[j] * psi;
        c[j] = (1.0f - alpha) * (1.0f - rho) * psi;
        p[j] = (1.0f - alpha) * psi;
        q[j] = beta[j] * psi;
    }
}

/* eligibility, layout `lean`: eps^v per presynaptic neuron (updated by eprop_eps_v), eps^a, ebar, E
 * per synapse [post][pre]; the inner loop keeps d, c, p, q in registers (per synapse). */
void eprop_eligibility_post_pre(int n_post, int m_pre, const float *restrict d, const float *restrict c,
                                const float *restrict p, const float *restrict q,
                                const float *restrict eps_v, float *restrict eps_a,
                                float *restrict ebar, float *restrict e_acc, float kappa)
{
    for (int j = 0; j < n_post; j++) {
        float dj = d[j], cj = c[j], pj = p[j], qj = q[j];
        float *ea = eps_a + j * m_pre, *eb = ebar + j * m_pre, *E = e_acc + j * m_pre;
        for (int i = 0; i < m_pre; i++) {
            float ev = eps_v[i];
            float a = dj * ea[i] + cj * ev;
            float e = pj * ev - qj * a;
            float b = kappa * eb[i] + e;
            ea[i] = a;
            eb[i] = b;
            E[i] += b;
        }
    }
}

/* eligibility, the repo's [pre][post] layout: inner loop over post neurons reloads d, c, p, q. */
void eprop_eligibility_pre_post(int m_pre, int n_post, const float *restrict d, const float *restrict c,
                                const float *restrict p, const float *restrict q,
                                const float *restrict eps_v, float *restrict eps_a,
                                float *restrict ebar, float *restrict e_acc, float kappa)
{
    for (int i = 0; i < m_pre; i++) {
        float ev = eps_v[i];
        float *ea = eps_a + i * n_post, *eb = ebar + i * n_post, *E = e_acc + i * n_post;
        for (int j = 0; j < n_post; j++) {
            float a = d[j] * ea[j] + c[j] * ev;
            float e = p[j] * ev - q[j] * a;
            float b = kappa * eb[j] + e;
            ea[j] = a;
            eb[j] = b;
            E[j] += b;
        }
    }
}

/* eligibility, layout `paper`: eps^v kept per synapse too (spec §2.2 S13 as the C code stores it),
 * [pre][post]: the inner loop over post neurons reloads d, c, p, q. */
void eprop_eligibility_paper(int m_pre, int n_post, const float *restrict d, const float *restrict c,
                             const float *restrict p, const float *restrict q,
                             const float *restrict u, float *restrict eps_v, float *restrict eps_a,
                             float *restrict ebar, float *restrict e_acc, float alpha, float kappa)
{
    for (int i = 0; i < m_pre; i++) {
        float ui = u[i];
        float *ev = eps_v + i * n_post, *ea = eps_a + i * n_post;
        float *eb = ebar + i * n_post, *E = e_acc + i * n_post;
        for (int j = 0; j < n_post; j++) {
            float v = alpha * ev[j] + ui;
            float a = d[j] * ea[j] + c[j] * v;
            float e = p[j] * v - q[j] * a;
            float b = kappa * eb[j] + e;
            ev[j] = v;
            ea[j] = a;
            eb[j] = b;
            E[j] += b;
        }
    }
}

/* S16, no eligibility for autapses: after the eligibility kernel, per own neuron j, the diagonal
 * synapse (row diag_row0 + j of the [pre][post] state) is reset: eps^v and eps^a to 0, and its e taken
 * back out of E (ebar on the diagonal is always 0, so the b the kernel added there was e). Per neuron. */
void eprop_autapse_zero(int n_post, int diag_row0, float *restrict eps_v, float *restrict eps_a,
                        float *restrict ebar, float *restrict e_acc)
{
    for (int j = 0; j < n_post; j++) {
        int s = (diag_row0 + j) * n_post + j;
        e_acc[s] -= ebar[s];
        ebar[s] = 0.0f;
        eps_a[s] = 0.0f;
        eps_v[s] = 0.0f;
    }
}

/* eligibility, layout `closed_form`: no ebar; E += w_t * e with w_t folded into p and q (per synapse),
 * [pre][post]. */
void eprop_eligibility_closed_form(int m_pre, int n_post, const float *restrict d, const float *restrict c,
                                   const float *restrict p, const float *restrict q,
                                   const float *restrict eps_v, float *restrict eps_a,
                                   float *restrict e_acc)
{
    for (int i = 0; i < m_pre; i++) {
        float ev = eps_v[i];
        float *ea = eps_a + i * n_post, *E = e_acc + i * n_post;
        for (int j = 0; j < n_post; j++) {
            float a = d[j] * ea[j] + c[j] * ev;
            ea[j] = a;
            E[j] += p[j] * ev - q[j] * a;
        }
    }
}

/* eps^v per presynaptic neuron (layouts lean and closed_form): eps_v[i] = alpha * eps_v[i] + u[i]. */
void eprop_eps_v(int m_pre, const float *restrict u, float *restrict eps_v, float alpha)
{
    for (int i = 0; i < m_pre; i++)
        eps_v[i] = alpha * eps_v[i] + u[i];
}

/* readout partial: y[k] += sum_j zbar[j] * W_out[j][k] over the slice's neurons (S11). W_out is
 * [neuron][out] as the firmware stores it (firmware.py: W_out is N x n_out): per output a dot product
 * down column k (stride n_out), summed over j ascending and then added to y[k], as the firmware rounds. */
void eprop_readout(int n_out, int n, const float *restrict w_out, const float *restrict zbar,
                   float *restrict y_sum)
{
    for (int k = 0; k < n_out; k++) {
        const float *col = w_out + k;
        float acc = 0.0f;
        for (int j = 0; j < n; j++)
            acc += col[j * n_out] * zbar[j];
        y_sum[k] += acc;
    }
}

/* learning signal L_j = (1/T) sum_k W_out[j][k] err_k (R4), per neuron; W_out [neuron][out]: the inner
 * loop runs along neuron j's contiguous row. */
void eprop_learning_signal(int n, int n_out, const float *restrict w_out, const float *restrict err,
                           float *restrict signal, float inv_t)
{
    for (int j = 0; j < n; j++) {
        const float *row = w_out + j * n_out;
        float acc = 0.0f;
        for (int k = 0; k < n_out; k++)
            acc += row[k] * err[k];
        signal[j] = acc * inv_t;
    }
}

/* fused gradient g = L_j E + 2 l2 w, Adam (spec §2.4) and E <- 0, per weight; [pre][post]: the inner
 * loop over post neurons reloads L_j. */
void adam_update(int m_pre, int n_post, const float *restrict signal, float *restrict w,
                 float *restrict m, float *restrict v, float *restrict e_acc,
                 float two_l2, float beta1, float one_minus_beta1, float beta2, float one_minus_beta2,
                 float lr_t, float eps)
{
    for (int i = 0; i < m_pre; i++) {
        int base = i * n_post;
        for (int j = 0; j < n_post; j++) {
            int s = base + j;
            float wi = w[s];
            float g = signal[j] * e_acc[s] + two_l2 * wi;
            float mi = beta1 * m[s] + one_minus_beta1 * g;
            float vi = beta2 * v[s] + one_minus_beta2 * g * g;
            m[s] = mi;
            v[s] = vi;
            w[s] = wi - lr_t * mi / (sqrtf(vi) + eps);
            e_acc[s] = 0.0f;
        }
    }
}
