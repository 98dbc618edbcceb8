/* EventProp per-phase kernels for one LIF layer slice (spec eventprop_yinyang.md §1.3, discrete
 * forward and adjoint "as implemented"; loss §1.3 "on-chip loss"), C99 float.
 *
 * Compiled for the Cortex-M4F and analysed by tools/calibrate_kernels.py to derive the cycles the
 * firmware (firmware_models/eventprop/firmware.py) charges; not run by s2sim. Loop bounds are
 * parameters so one kernel serves every layer slice. Weights and the gradient accumulator are
 * [post][pre] (n x n_in), as the firmware stores them (firmware.py: LayerGroup.W, .acc): a presynaptic
 * spike walks a column (stride n_in).
 */
#include <math.h>

/* One own spike kept for the adjoint pass: step, neuron, I and pre-reset V (12 bytes). */
struct spike_record {
    unsigned short step, neuron;
    float current, v_pre;
};

/* One received input spike kept for the gradient pass: step and presynaptic index (4 bytes). */
struct input_record {
    unsigned short step, index;
};

/* forward, per received spike (packet handler): record it for the adjoint pass, then add weight
 * column `index` of W [post][pre] (stride n_in) into the next step's input (per post neuron). */
void eventprop_receive_spike(int n, int n_in, int step, int index, const float *restrict w,
                             float *restrict input, struct input_record *restrict history,
                             int *restrict n_history)
{
    struct input_record *r = &history[(*n_history)++];
    r->step = (unsigned short)step;
    r->index = (unsigned short)index;
    const float *col = w + index;
    for (int j = 0; j < n; j++)
        input[j] += col[j * n_in];
}

/* backward, per received error packet (handler): dL/ds of one own neuron for the current step. */
void eventprop_error_in(int n_packets, const unsigned short *restrict neuron,
                        const float *restrict value, float *restrict grad_out)
{
    for (int k = 0; k < n_packets; k++)
        grad_out[neuron[k]] += value[k];
}

/* forward step (per neuron): I = alpha I + input; V = beta V + (1-beta) I; spike if V > 1, record
 * (step, j, I, Vpre), reset to 0. Returns the number of spikes. */
int eventprop_forward_step(int n, int step, float *restrict current, float *restrict input,
                           float *restrict v, struct spike_record *restrict history,
                           float alpha, float beta)
{
    int n_fired = 0;
    for (int j = 0; j < n; j++) {
        float i_syn = alpha * current[j] + input[j];
        float vj = beta * v[j] + (1.0f - beta) * i_syn;
        input[j] = 0.0f;
        current[j] = i_syn;
        if (vj > 1.0f) {
            struct spike_record *r = &history[n_fired++];
            r->step = (unsigned short)step;
            r->neuron = (unsigned short)j;
            r->current = i_syn;
            r->v_pre = vj;
            vj = 0.0f;
        }
        v[j] = vj;
    }
    return n_fired;
}

/* adjoint step (per neuron): lambda_I = alpha lambda_I + (1-alpha) lambda_V; lambda_V = beta lambda_V
 * + received error (grad_out); err_out = lambda_V - lambda_I for the presynaptic layer. */
void eventprop_adjoint_step(int n, float *restrict lambda_i, float *restrict lambda_v,
                            float *restrict grad_out, float *restrict err_out, float alpha, float beta)
{
    for (int j = 0; j < n; j++) {
        float lv = lambda_v[j];
        float li = alpha * lambda_i[j] + (1.0f - alpha) * lv;
        float lv_new = beta * lv + grad_out[j];
        grad_out[j] = 0.0f;
        lambda_i[j] = li;
        lambda_v[j] = lv_new;
        err_out[j] = lv_new - li;
    }
}

/* adjoint jump at each own spike of this step (per spike): lambda_V += (lambda_V + dL/ds) / (I - Vpre). */
void eventprop_adjoint_jump(int n_spikes, const struct spike_record *restrict spikes,
                            float *restrict lambda_v, const float *restrict grad_spike)
{
    for (int k = 0; k < n_spikes; k++) {
        int j = spikes[k].neuron;
        float vdot = spikes[k].current - spikes[k].v_pre + 1e-10f;
        lambda_v[j] += (lambda_v[j] + grad_spike[j]) / vdot;
    }
}

/* gradient accumulation at a presynaptic spike i (per post neuron): acc[j][i] += lambda_I[j]. */
void eventprop_grad_accumulate(int n, int n_in, int i, const float *restrict lambda_i,
                               float *restrict acc)
{
    for (int j = 0; j < n; j++)
        acc[j * n_in + i] += lambda_i[j];
}

/* backward error for presynaptic neuron i (per post neuron): sum_j W[j][i] (lambda_V - lambda_I)_j. */
float eventprop_error_out(int n, int n_in, int i, const float *restrict w, const float *restrict err)
{
    float acc = 0.0f;
    for (int j = 0; j < n; j++)
        acc += w[j * n_in + i] * err[j];
    return acc;
}

/* TTFS loss gradient (per output neuron): softmax over -t/tau0 and the label term (on-chip loss). */
float eventprop_loss(int n, const float *restrict t_first, int label, float *restrict grad,
                     float inv_tau0, float alpha_reg, float inv_tau1)
{
    float sum = 0.0f;
    for (int k = 0; k < n; k++)
        sum += expf(-t_first[k] * inv_tau0);
    float inv_sum = 1.0f / sum;
    for (int k = 0; k < n; k++) {
        float soft = expf(-t_first[k] * inv_tau0) * inv_sum;
        grad[k] = -inv_tau0 * soft;
    }
    float tl = t_first[label];
    grad[label] += inv_tau0 + alpha_reg * inv_tau1 * expf(tl * inv_tau1);
    return -logf(expf(-tl * inv_tau0) * inv_sum);
}
