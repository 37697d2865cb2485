package dev.tributary.compat;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.TestWatcher;

/** Remembers which test classes had a failure, so that their @AfterAll keeps the broker's log. */
final class FailedTests implements TestWatcher {
    private static final Set<Class<?>> FAILED = ConcurrentHashMap.newKeySet();

    @Override
    public void testFailed(ExtensionContext context, Throwable cause) {
        FAILED.add(context.getRequiredTestClass());
    }

    static boolean in(Class<?> testClass) {
        return FAILED.contains(testClass);
    }
}
