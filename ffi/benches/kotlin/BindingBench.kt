// Per-message cost of encrypt + decrypt (100-byte messages, steady state) through the
// Kotlin bindings, one call per message and in batches of 100. Run by ffi/bench.sh,
// which compares it with the same operation measured in Rust (benches/ffi.rs).

import uniffi.satchel.Account

fun medianNanosPerMessage(rounds: Int, messages: Int, body: () -> Unit): Double {
    val samples = (0 until rounds).map {
        val start = System.nanoTime()
        body()
        (System.nanoTime() - start).toDouble() / messages
    }.sorted()
    return samples[samples.size / 2]
}

fun main() {
    val teacher = Account()
    val parent = Account()
    val toParent = teacher.startSession(parent.prekeyBundle())
    val toTeacher = parent.acceptSession(toParent.encrypt("hello".toByteArray())).session
    // One reply so that both sides are past the first contact (steady state).
    toParent.decrypt(toTeacher.encrypt("hi".toByteArray()))
    val message = ByteArray(100) { it.toByte() }
    val perRound = 2000
    val single = {
        repeat(perRound) { toTeacher.decrypt(toParent.encrypt(message)) }
    }
    val batch = List(100) { message }
    val batched = {
        repeat(perRound / 100) { toTeacher.decryptBatch(toParent.encryptBatch(batch)) }
    }
    repeat(5) { single(); batched() } // JIT warm-up
    val singleNs = medianNanosPerMessage(15, perRound, single)
    val batchNs = medianNanosPerMessage(15, perRound, batched)
    println("kotlin single %.2f us/message".format(singleNs / 1000))
    println("kotlin batch100 %.2f us/message".format(batchNs / 1000))
}
