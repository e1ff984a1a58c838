// The Satchel bindings driven from Kotlin on the JVM: the same cases as the Python suite.
// Run by scripts/test-bindings; prints one line per test and "N passed, M failed".
// Needs the system properties satchel.relay (the relay binary) and a temp folder.

import java.io.File
import java.nio.file.Files
import kotlin.system.exitProcess
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.runBlocking
import uniffi.satchel.Account
import uniffi.satchel.DecryptFailure
import uniffi.satchel.GroupKind
import uniffi.satchel.GroupSession
import uniffi.satchel.Role
import uniffi.satchel.SatchelClient
import uniffi.satchel.SatchelException
import uniffi.satchel.Session

class Failure(message: String) : Exception(message)

fun check(condition: Boolean, message: () -> String) {
    if (!condition) throw Failure(message())
}

inline fun <reified E : Throwable> expectThrows(block: () -> Unit): E {
    try {
        block()
    } catch (e: Throwable) {
        if (e is E) return e
        throw Failure("expected ${E::class.simpleName}, got $e")
    }
    throw Failure("expected ${E::class.simpleName}, nothing was thrown")
}

class Pair(val teacher: Account, val parent: Account, val toParent: Session, val toTeacher: Session)

fun pair(): Pair {
    val teacher = Account()
    val parent = Account()
    val toParent = teacher.startSession(parent.prekeyBundle())
    val inbound = parent.acceptSession(toParent.encrypt("Hello from Ms Rivera".toByteArray()))
    check(inbound.plaintext.decodeToString() == "Hello from Ms Rivera") { "first message" }
    return Pair(teacher, parent, toParent, inbound.session)
}

fun roundTrip() {
    val p = pair()
    for (i in 0 until 20) {
        val text = "message $i"
        check(p.toTeacher.decrypt(p.toParent.encrypt(text.toByteArray())).decodeToString() == text) { "to teacher $i" }
        check(p.toParent.decrypt(p.toTeacher.encrypt("$text!".toByteArray())).decodeToString() == "$text!") { "to parent $i" }
    }
    check(p.teacher.safetyNumber(p.toParent) == p.parent.safetyNumber(p.toTeacher)) { "safety numbers differ" }
    check(p.toParent.peerFingerprint() == p.parent.fingerprint()) { "peer fingerprint" }
}

fun outOfOrder() {
    val p = pair()
    val wire = (0 until 30).map { p.toParent.encrypt("note $it".toByteArray()) }
    val order = (0 until 30).shuffled(java.util.Random(7))
    val lost = order.take(5).toSet()
    for (i in order) {
        if (i in lost) continue
        check(p.toTeacher.decrypt(wire[i]).decodeToString() == "note $i") { "note $i" }
    }
    check(p.toParent.decrypt(p.toTeacher.encrypt("got them".toByteArray())).decodeToString() == "got them") { "reply" }
}

fun tampered() {
    val p = pair()
    val wire = p.toParent.encrypt("Meet at the gate at 9".toByteArray())
    val before = p.toTeacher.toBytes()
    val bad = wire.copyOf()
    bad[bad.size - 1] = (bad[bad.size - 1].toInt() xor 1).toByte()
    val e = expectThrows<SatchelException.CorruptedMessage> { p.toTeacher.decrypt(bad) }
    check(e.message!!.contains("damaged")) { "message: ${e.message}" }
    check(p.toTeacher.toBytes().contentEquals(before)) { "session changed after a failure" }
    check(p.toTeacher.decrypt(wire).decodeToString() == "Meet at the gate at 9") { "original after tamper" }
}

fun duplicates() {
    val teacher = Account()
    val parent = Account()
    val session = teacher.startSession(parent.prekeyBundle())
    val first = session.encrypt("hi".toByteArray())
    val inbound = parent.acceptSession(first)
    expectThrows<SatchelException.Duplicate> { parent.acceptSession(first) }
    val wire = session.encrypt("again".toByteArray())
    check(inbound.session.decrypt(wire).decodeToString() == "again") { "again" }
    expectThrows<SatchelException.Duplicate> { inbound.session.decrypt(wire) }
    expectThrows<SatchelException.UnknownSession> { inbound.session.decrypt(pair().toParent.encrypt("x".toByteArray())) }
    expectThrows<SatchelException.InvalidBundle> { Account().startSession("not a bundle".toByteArray()) }
}

fun persistence() {
    var p = pair()
    val inFlight = p.toParent.encrypt("sent before the restart".toByteArray())
    val saved = listOf(p.teacher.toBytes(), p.parent.toBytes(), p.toParent.toBytes(), p.toTeacher.toBytes())
    val teacher = Account.fromBytes(saved[0])
    val parent = Account.fromBytes(saved[1])
    val toParent = Session.fromBytes(saved[2])
    val toTeacher = parent.restoreSession(saved[3])
    check(toTeacher.decrypt(inFlight).decodeToString() == "sent before the restart") { "in flight" }
    check(toParent.decrypt(toTeacher.encrypt("and after".toByteArray())).decodeToString() == "and after") { "after" }
    check(teacher.safetyNumber(toParent) == parent.safetyNumber(toTeacher)) { "safety numbers after restore" }
    expectThrows<SatchelException.CorruptedState> { Session.fromBytes(byteArrayOf(0, 1, 2)) }
    expectThrows<SatchelException.CorruptedState> { Account.fromBytes(ByteArray(0)) }
}

/** The registration token the test relays are started with. */
const val REGISTRATION_TOKEN = "kotlin-test-registration-token"

fun startRelay(dataDir: File): kotlin.Pair<Process, String> {
    val builder = ProcessBuilder(System.getProperty("satchel.relay"), "--listen", "127.0.0.1:0", "--data", dataDir.path)
        .redirectError(ProcessBuilder.Redirect.DISCARD)
    builder.environment()["SATCHEL_RELAY_REGISTRATION_TOKEN"] = REGISTRATION_TOKEN
    val process = builder.start()
    val line = process.inputStream.bufferedReader().readLine() ?: ""
    check(line.startsWith("listening on ")) { "relay did not start: $line" }
    return kotlin.Pair(process, "http://" + line.removePrefix("listening on "))
}

/** The store key an app would keep in the Android Keystore (fixed per test person). */
fun storeKey(name: String): ByteArray =
    java.security.MessageDigest.getInstance("SHA-256").digest(name.toByteArray())

fun clientAgainstRelay() {
    val tmp = Files.createTempDirectory("satchel-kotlin").toFile()
    val (relay, url) = startRelay(File(tmp, "relay"))
    try {
        runBlocking {
            val admin = SatchelClient(File(tmp, "admin").path, storeKey("admin"), null)
            expectThrows<SatchelException.RegistrationRefused> { runBlocking { admin.createSchool("Hillside Primary", url) } }
            val school = admin.createSchool("Hillside Primary", url, REGISTRATION_TOKEN)
            check(school.admin && school.role == Role.ADMIN) { "admin" }
            val teacherCode = admin.invite(Role.TEACHER, "Ms Rivera", listOf("5B"))
            val parentCode = admin.invite(Role.PARENT, "Sam Parent", listOf("5B"))

            val teacher = SatchelClient(File(tmp, "teacher").path, storeKey("teacher"), null)
            val parent = SatchelClient(File(tmp, "parent").path, storeKey("parent"), null)
            val me = teacher.join(teacherCode)
            check(me.name == "Ms Rivera" && me.role == Role.TEACHER && me.classes == listOf("5B")) { "teacher identity $me" }
            check(me.schoolId == school.schoolId) { "school id" }
            parent.join(parentCode)
            check(parent.whoami().name == "Sam Parent") { "whoami" }
            check(!me.admitted) { "admitted before the office confirmed" }
            expectThrows<SatchelException.NotYetAdmitted> { runBlocking { teacher.send("Sam Parent", "too early") } }
            admin.sync() // the office's sync confirms both
            val rivera = parent.contacts().single { it.name == "Ms Rivera" }
            check(rivera.verified && rivera.role == Role.TEACHER) { "contact $rivera" }

            check(teacher.send("Sam Parent", "The trip is on Friday.")) { "send accepted" }
            val got = parent.sync()
            check(got.map { listOf(it.senderName, it.role, it.verified, it.text) } ==
                listOf(listOf("Ms Rivera", Role.TEACHER, true, "The trip is on Friday."))) { "sync: $got" }
            check(parent.sync().isEmpty()) { "second sync empty" }

            parent.send("Ms Rivera", "Thank you!")
            check(teacher.sync().map { it.text } == listOf("Thank you!")) { "reply" }
            check(teacher.history("Sam Parent").map { it.outgoing to it.text } ==
                listOf(true to "The trip is on Friday.", false to "Thank you!")) { "history" }

            // One client object shared by concurrent coroutines.
            val sends = (0 until 5).map { i -> async { admin.send("Sam Parent", "notice $i") } }
            check(sends.awaitAll().all { it }) { "concurrent sends" }
            val notices = parent.sync().map { it.text }.sorted()
            check(notices == (0 until 5).map { "notice $it" }) { "notices $notices" }

            expectThrows<SatchelException.InviteUsed> { runBlocking { SatchelClient(File(tmp, "second").path, storeKey("second"), null).join(parentCode) } }
            expectThrows<SatchelException.UnknownContact> { runBlocking { teacher.send("Nobody", "hello") } }
            expectThrows<SatchelException.NotAdmin> { runBlocking { teacher.invite(Role.PARENT, "X", listOf()) } }
            val fresh = SatchelClient(File(tmp, "fresh").path, storeKey("fresh"), null)
            expectThrows<SatchelException.NotEnrolled> { runBlocking { fresh.whoami() } }
            expectThrows<SatchelException.Network> { runBlocking { fresh.createSchool("Nowhere", "http://127.0.0.1:9") } }
            expectThrows<SatchelException.InvalidInput> { runBlocking { fresh.createSchool("Nowhere", "not a url") } }
            expectThrows<SatchelException.InvalidInput> { runBlocking { admin.invite(Role.PARENT, "x".repeat(10_000), listOf("5B")) } }
            expectThrows<SatchelException.WrongStoreKey> { SatchelClient(File(tmp, "admin").path, storeKey("someone else"), null) }
            expectThrows<SatchelException.InvalidInput> { SatchelClient(File(tmp, "other").path, ByteArray(5), null) }

            // Two client objects on one folder, used from many threads at once: nothing
            // is lost and no message key is used twice.
            val second = SatchelClient(File(tmp, "admin").path, storeKey("admin"), null)
            val threads = (0 until 16).map { i ->
                Thread { runBlocking { (if (i % 2 == 0) admin else second).send("Sam Parent", "thread $i") } }
            }
            threads.forEach { it.start() }
            threads.forEach { it.join() }
            val fromThreads = parent.sync().map { it.text }.sorted()
            check(fromThreads == (0 until 16).map { "thread $it" }.sorted()) { "threads $fromThreads" }
        }
    } finally {
        relay.destroy()
        relay.waitFor()
        tmp.deleteRecursively()
    }
}

// The patched bindings reuse call-status structures per thread and nesting depth
// (scripts/patch-kotlin-bindings.py): errors and successes interleaved on many threads
// must still come back exactly as they happened, and nested calls (arguments lowered
// inside an outer call) must not share a status.
fun callStatusReuse() {
    val pairs = (0 until 4).map { pair() }
    val threads = pairs.mapIndexed { t, p ->
        Thread {
            repeat(500) { i ->
                val text = "thread $t message $i"
                val wire = p.toParent.encrypt(text.toByteArray())
                val tampered = wire.copyOf().also { it[it.size - 1] = (it[it.size - 1].toInt() xor 1).toByte() }
                expectThrows<SatchelException.CorruptedMessage> { p.toTeacher.decrypt(tampered) }
                check(p.toTeacher.decrypt(wire).decodeToString() == text) { text }
                if (i % 50 == 0) {
                    val batch = p.toParent.encryptBatch(List(10) { "b$it".toByteArray() })
                    check(p.toTeacher.decryptBatch(batch).map { it.plaintext!!.decodeToString() } == List(10) { "b$it" }) { "batch" }
                }
            }
        }
    }
    val failures = java.util.concurrent.ConcurrentLinkedQueue<Throwable>()
    threads.forEach { t -> t.setUncaughtExceptionHandler { _, e -> failures.add(e) }; t.start() }
    threads.forEach { it.join() }
    check(failures.isEmpty()) { "threads failed: ${failures.firstOrNull()}" }
    check(generatedCodeIsPatched()) { "the bindings under test are not the patched ones" }
}

fun generatedCodeIsPatched(): Boolean =
    runCatching { Class.forName("uniffi.satchel.UniffiCallStatusStack") }.isSuccess

fun groupSessionBytes() {
    val now = 1_767_225_600uL
    val groupId = ByteArray(16) { it.toByte() }
    val teacherKey = ByteArray(32) { 1 }
    val teacher = GroupSession(groupId, teacherKey, now)
    val parent = GroupSession(groupId, ByteArray(32) { 2 }, now)
    check(parent.receiveDistribution(teacherKey, teacher.distribution())) { "key taken" }
    expectThrows<SatchelException.CorruptedMessage> { parent.receiveDistribution(ByteArray(32) { 3 }, teacher.distribution()) }
    val wire = (0 until 20).map { teacher.encrypt("notice $it".toByteArray(), now) }
    val read = parent.decrypt(wire[0])
    check(read.sender.contentEquals(teacherKey) && read.index == 0u && read.plaintext.decodeToString() == "notice 0") { "read $read" }
    expectThrows<SatchelException.Duplicate> { parent.decrypt(wire[0]) }
    val tampered = wire[5].copyOf().also { it[it.size - 1] = (it[it.size - 1].toInt() xor 1).toByte() }
    val results = parent.decryptBatch(wire.subList(1, 5) + listOf(tampered) + wire.subList(5, 20))
    check(results[4].message == null && results[4].failure == DecryptFailure.CORRUPTED) { "tampered: ${results[4]}" }
    check(results.filterIndexed { i, _ -> i != 4 }.map { it.message!!.plaintext.decodeToString() } ==
        (1 until 20).map { "notice $it" }) { "batch" }
    val fresh = teacher.rotate(now)
    val newcomer = GroupSession(groupId, ByteArray(32) { 4 }, now)
    newcomer.receiveDistribution(teacherKey, fresh)
    val after = teacher.encrypt("after the removal".toByteArray(), now)
    check(newcomer.decrypt(after).plaintext.decodeToString() == "after the removal") { "newcomer" }
    expectThrows<SatchelException.NoKeyYet> { parent.decrypt(after) }
    check(GroupSession.fromBytes(parent.toBytes()).toBytes().contentEquals(parent.toBytes())) { "restore" }
}

fun groupsAgainstRelay() {
    val tmp = Files.createTempDirectory("satchel-kotlin-groups").toFile()
    val (relay, url) = startRelay(File(tmp, "relay"))
    try {
        runBlocking {
            val admin = SatchelClient(File(tmp, "admin").path, storeKey("admin"), null)
            admin.createSchool("Hillside Primary", url, REGISTRATION_TOKEN)
            val people = listOf(
                Triple("teacher", Role.TEACHER, "Ms Rivera"),
                Triple("mum", Role.PARENT, "Sam Parent"),
                Triple("dad", Role.PARENT, "Alex Parent"),
            ).associate { (folder, role, name) ->
                val person = SatchelClient(File(tmp, folder).path, storeKey(folder), null)
                person.join(admin.invite(role, name, listOf("5B")))
                folder to person
            }
            admin.sync() // the office confirms all three
            val teacher = people.getValue("teacher")
            val mum = people.getValue("mum")
            val dad = people.getValue("dad")
            val group = teacher.createGroup(GroupKind.CLASS_GROUP, "5B")
            check(group.title == "Class 5B" && group.people == 3u) { "group $group" }
            check(teacher.sendToGroup(group.id, "Swimming is cancelled")) { "sent" }
            for (parent in listOf(mum, dad)) {
                val got = parent.sync()
                check(got.map { listOf(it.senderName, it.verified, it.text, it.group) } ==
                    listOf(listOf("Ms Rivera", true, "Swimming is cancelled", "Class 5B"))) { "sync $got" }
            }
            expectThrows<SatchelException.NotAllowedInGroup> { runBlocking { mum.sendToGroup(group.id, "me too") } }
            check(teacher.groupRemove(group.id, "Alex Parent").people == 2u) { "removed" }
            teacher.sendToGroup(group.id, "Bring a towel")
            check(dad.sync().isEmpty()) { "the removed parent reads nothing new" }
            check(mum.sync().map { it.text } == listOf("Bring a towel")) { "mum" }
            teacher.announce("5B", "Photos on Monday")
            check(mum.sync().map { it.group } == listOf("5B announcements")) { "announcement" }
            mum.sendToClassTeam("5B", "Is the trip still on?")
            check(teacher.sync().map { it.senderName to it.group } == listOf("Sam Parent" to "Teachers of 5B")) { "team" }
        }
    } finally {
        relay.destroy()
        relay.waitFor()
        tmp.deleteRecursively()
    }
}

fun main() {
    val tests = listOf(
        "call statuses reused per thread: errors and nested calls intact" to ::callStatusReuse,
        "group session bytes in, bytes out" to ::groupSessionBytes,
        "groups through SatchelClient against a real relay" to ::groupsAgainstRelay,
        "session round trip" to ::roundTrip,
        "out-of-order and lost messages" to ::outOfOrder,
        "tampered message raises CorruptedMessage, session unchanged" to ::tampered,
        "duplicates, replays, unknown sessions, bad bundles" to ::duplicates,
        "state persisted and restored mid-conversation" to ::persistence,
        "SatchelClient against a real relay" to ::clientAgainstRelay,
    )
    var passed = 0
    var failed = 0
    for ((name, test) in tests) {
        try {
            test()
            passed++
            println("ok    $name")
        } catch (e: Throwable) {
            failed++
            println("FAIL  $name: $e")
        }
    }
    println("$passed passed, $failed failed")
    exitProcess(if (failed == 0) 0 else 1)
}
